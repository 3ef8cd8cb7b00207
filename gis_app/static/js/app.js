// Small behaviours every page shares, kept out of inline handlers so that the Content-Security-Policy can forbid them.
(function () {
  "use strict";
  document.addEventListener("change", (e) => {
    const el = e.target.closest("[data-autosubmit]");
    if (el && el.form) el.form.submit();
  });
  document.addEventListener("click", (e) => {
    if (e.target.closest("[data-print]")) { e.preventDefault(); window.print(); }
  });
})();
