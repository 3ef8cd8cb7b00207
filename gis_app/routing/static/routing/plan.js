// While a plan is being solved, follow its job and reload the page when it is done.
(function () {
  var box = document.getElementById("plan-status");
  if (!box || !box.dataset.jobUrl) return;
  var bar = document.getElementById("plan-bar"), message = document.getElementById("plan-message");
  function poll() {
    fetch(box.dataset.jobUrl, {credentials: "same-origin"}).then(function (r) { return r.json(); }).then(function (job) {
      if (bar) bar.style.width = job.percent + "%";
      if (message) message.textContent = job.error || job.message || job.status_label;
      if (job.finished) { window.location.reload(); } else { setTimeout(poll, 1000); }
    }).catch(function () { setTimeout(poll, 3000); });
  }
  poll();
})();
