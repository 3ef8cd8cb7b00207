// Placing a care home by hand: a click puts the marker, dragging moves it; the coordinates go to the form's fields
// (and typing coordinates moves the marker). Saving is the form's ordinary POST.
(function () {
  "use strict";
  function attach(map, lonId, latId) {
    const lon = document.getElementById(lonId);
    const lat = document.getElementById(latId);
    let marker = null;
    function put(latlng, pan) {
      if (!marker) {
        marker = L.marker(latlng, { draggable: true, title: "机构位置（可拖动）" }).addTo(map);
        marker.on("dragend", () => write(marker.getLatLng()));
      } else {
        marker.setLatLng(latlng);
      }
      if (pan) map.setView(latlng, Math.max(map.getZoom(), 16));
    }
    function write(latlng) {
      lon.value = latlng.lng.toFixed(6);
      lat.value = latlng.lat.toFixed(6);
    }
    function read() {
      const x = parseFloat(lon.value), y = parseFloat(lat.value);
      return Number.isFinite(x) && Number.isFinite(y) ? L.latLng(y, x) : null;
    }
    const start = read();
    if (start) put(start, false);
    map.on("click", (e) => { put(e.latlng, false); write(e.latlng); });
    [lon, lat].forEach((input) => input.addEventListener("change", () => { const p = read(); if (p) put(p, true); }));
  }
  window.HomeLocator = { attach: attach };
})();
