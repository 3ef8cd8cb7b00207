// Small behaviours every page shares, kept out of inline handlers so that the Content-Security-Policy can forbid them.
(function () {
  "use strict";
  document.addEventListener("change", (e) => {
    const el = e.target.closest("[data-autosubmit]");
    if (el && el.form) el.form.submit();
  });
  document.addEventListener("click", (e) => {
    if (e.target.closest("[data-print]")) { e.preventDefault(); window.print(); }
    const allPass = e.target.closest("[data-all-pass]");
    if (allPass) {  // 全部合格: every item of this key place answered "pass" (each can still be changed)
      e.preventDefault();
      for (const radio of allPass.closest("section").querySelectorAll("input[type=radio][value=pass]")) radio.checked = true;
    }
  });
  // <input data-filter-options="select-id">: typing narrows a long <select> to the options containing the text,
  // and picks the first match, so 100+ homes are found by a few characters (also on a tablet).
  document.addEventListener("input", (e) => {
    const box = e.target.closest("[data-filter-options]");
    if (!box) return;
    const select = document.getElementById(box.dataset.filterOptions);
    if (!select) return;
    const text = box.value.trim();
    let first = null;
    for (const option of select.options) {
      const match = !text || option.text.includes(text);
      option.hidden = !match;
      if (match && !first) first = option;
    }
    for (const group of select.querySelectorAll("optgroup")) {
      group.hidden = ![...group.children].some((o) => !o.hidden);
    }
    if (first && text) select.value = first.value;
  });
})();
