// The alarm page stays live: new events are fetched every 2 seconds and appear at the top and on the map.
(function () {
  "use strict";
  function esc(s) { return String(s == null ? "" : s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]); }
  const COLOURS = { fire: "#d50000", fault: "#ff9800", isolated: "#795548", power_loss: "#607d8b", recovery: "#2e7d32", test: "#1565c0" };
  function attach(map, initial) {
    const table = document.getElementById("alarms");
    const body = table.querySelector("tbody");
    let last = Number(table.dataset.last || 0);
    const layer = L.layerGroup().addTo(map);
    function mark(e) {
      if (e.lat === null || e.lon === null) return; // a home not yet placed on the map (未定位): the table still lists it
      L.circleMarker([e.lat, e.lon], { radius: e.kind === "fire" ? 10 : 7, color: "#fff", weight: 1.5, fillColor: COLOURS[e.kind] || "#333", fillOpacity: 0.95, className: "alarm-marker kind-" + e.kind })
        .bindTooltip(`${esc(e.kind_label)} · ${esc(e.home)}`).addTo(layer);
    }
    initial.forEach(mark);
    async function poll() {
      try {
        const r = await fetch(`${table.dataset.feed}?after=${last}`, { credentials: "same-origin" });
        const data = await r.json();
        data.events.forEach((e) => {
          last = Math.max(last, e.id);
          const tr = document.createElement("tr");
          tr.id = "alarm-" + e.id; tr.className = "kind-" + e.kind + " fresh";
          tr.innerHTML = `<td>${esc(e.occurred_at.slice(5, 19).replace("T", " "))}</td><td><b>${esc(e.kind_label)}</b></td><td>${esc(e.home)}<br><small class="muted">${esc(e.device)}</small></td><td>${esc(e.status)}</td><td><a href="">刷新后处置</a></td>`;
          body.insertBefore(tr, body.firstChild);
          mark(e);
          if (e.kind === "fire" && e.lat !== null) map.setView([e.lat, e.lon], Math.max(map.getZoom(), 14));
        });
        document.getElementById("live-state").textContent = "实时更新中";
      } catch (err) {
        document.getElementById("live-state").textContent = "连接中断，正在重试…";
      }
      setTimeout(poll, 2000);
    }
    setTimeout(poll, 1000);
  }
  window.AlarmLive = { attach: attach };
})();
