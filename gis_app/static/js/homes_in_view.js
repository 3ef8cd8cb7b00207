// For a national-scale registry: the overview map embeds no homes; at street zoom it fetches the homes in view.
(function () {
  "use strict";
  function esc(s) { return String(s == null ? "" : s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]); }
  function attach(map, opts) {
    const layer = L.layerGroup().addTo(map);
    async function load() {
      layer.clearLayers();
      if (map.getZoom() < opts.minZoom) return;
      const params = new URLSearchParams({ bbox: map.getBounds().toBBoxString(), page_size: "1000" });
      const data = await fetch(`${opts.url}?${params}`, { credentials: "same-origin" }).then((r) => r.json());
      L.geoJSON(data, {
        pointToLayer: (f, ll) => L.circleMarker(ll, { radius: 7, color: "#fff", weight: 1.5, fillColor: "#1565c0", fillOpacity: 0.95, className: "carehome-marker" }),
        onEachFeature: (f, l) => l.bindPopup(`<b>${esc(f.properties.name)}</b><br>床位 ${esc(f.properties.beds)}<br>消防安全责任人：${esc(f.properties.fire_safety_owner || "未填写")}<br><a href="/carehomes/${f.id}/">查看详情 »</a>`),
      }).eachLayer((l) => layer.addLayer(l));
    }
    map.on("moveend", load);
    load();
  }
  window.HomesInView = { attach: attach };
})();
