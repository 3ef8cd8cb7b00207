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
    if (allPass) {  // 全部合格: every item of this key place (or the whole form) answered "pass"; each can still change
      e.preventDefault();
      const scope = allPass.dataset.allPass === "form" ? allPass.closest("form") : allPass.closest("section");
      for (const radio of scope.querySelectorAll("input[type=radio][value=pass]")) radio.checked = true;
    }
  });
  // <input data-filter-checks="list-id">: typing hides the checkboxes whose label lacks the text (checked ones stay);
  // <span data-checked-count="list-id"> says how many are ticked. A tablet-friendly pick list for long lists.
  function countChecked(listId) {
    const list = document.getElementById(listId);
    const out = document.querySelector(`[data-checked-count="${listId}"]`);
    if (list && out) out.textContent = `已选 ${list.querySelectorAll("input[type=checkbox]:checked").length} 家`;
  }
  document.addEventListener("input", (e) => {
    const box = e.target.closest("[data-filter-checks]");
    if (!box) return;
    const list = document.getElementById(box.dataset.filterChecks);
    if (!list) return;
    const text = box.value.trim();
    for (const label of list.querySelectorAll("label")) {
      const input = label.querySelector("input");
      const row = label.parentElement === list ? label : label.parentElement;
      row.hidden = Boolean(text) && !label.textContent.includes(text) && !(input && input.checked);
    }
  });
  function countAll() {
    document.querySelectorAll("[data-checked-count]").forEach((out) => countChecked(out.dataset.checkedCount));
  }
  document.addEventListener("change", (e) => { if (e.target.matches("input[type=checkbox]")) countAll(); });
  document.addEventListener("DOMContentLoaded", countAll);

  // <table data-sortable>: a click on a column header sorts the rows by it (numbers as numbers, largest first; a
  // second click reverses); rows marked data-sort-fixed (a total) stay last.
  document.addEventListener("click", (e) => {
    const th = e.target.closest("table[data-sortable] thead th");
    if (!th) return;
    const table = th.closest("table");
    const body = table.tBodies[0];
    const index = [...th.parentElement.children].indexOf(th);
    const descending = th.dataset.sorted !== "desc";
    table.querySelectorAll("thead th").forEach((h) => { delete h.dataset.sorted; h.removeAttribute("aria-sort"); });
    th.dataset.sorted = descending ? "desc" : "asc";
    th.setAttribute("aria-sort", descending ? "descending" : "ascending");
    const key = (row) => {
      const text = row.children[index] ? row.children[index].textContent.trim() : "";
      const number = parseFloat(text.replace(/[,%]/g, ""));
      return Number.isNaN(number) ? text : number;
    };
    const rows = [...body.rows].filter((r) => !r.hasAttribute("data-sort-fixed"));
    const fixed = [...body.rows].filter((r) => r.hasAttribute("data-sort-fixed"));
    rows.sort((a, b) => {
      const x = key(a), y = key(b);
      const order = typeof x === "number" && typeof y === "number" ? x - y : String(x).localeCompare(String(y), "zh-CN");
      return descending ? -order : order;
    });
    body.append(...rows, ...fixed);
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
