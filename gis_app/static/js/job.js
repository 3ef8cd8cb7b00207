// Polls a background job's status until it finishes, then reloads to show the result.
(function () {
  const box = document.getElementById("job");
  if (!box || box.dataset.finished === "1") return;
  const url = box.dataset.statusUrl;
  async function poll() {
    try {
      const r = await fetch(url, { headers: { Accept: "application/json" } });
      const s = await r.json();
      document.getElementById("job-status").textContent = s.status_label;
      document.getElementById("job-message").textContent = s.message || "";
      document.getElementById("job-bar").style.width = s.percent + "%";
      if (s.error) {
        const e = document.getElementById("job-error");
        e.hidden = false;
        e.textContent = s.error;
      }
      if (s.finished) { window.location.reload(); return; }
    } catch (err) {
      document.getElementById("job-message").textContent = "无法获取任务状态，正在重试…";
    }
    setTimeout(poll, 1000);
  }
  setTimeout(poll, 500);
})();
