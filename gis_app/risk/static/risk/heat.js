// Hazard density for the bureau: a canvas heat layer drawn from server-side aggregates (bins sized to the zoom),
// a hexagon grid from PostGIS, and at street level the hazards themselves. Only aggregates travel at low zoom.
(function () {
  "use strict";
  function esc(s) { return String(s == null ? "" : s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]); }

  // A small canvas heat layer (the simpleheat technique): blurred circles in alpha, then coloured by a gradient.
  const HeatLayer = L.Layer.extend({
    initialize: function (points, opts) { this._points = points || []; this._opts = Object.assign({ radius: 22 }, opts); },
    setPoints: function (points) { this._points = points; this._redraw(); },
    onAdd: function (map) {
      this._map = map;
      this._canvas = L.DomUtil.create("canvas", "heat-canvas leaflet-zoom-hide");
      this._canvas.id = "heat-canvas";
      map.getPanes().overlayPane.appendChild(this._canvas);
      map.on("moveend resize", this._redraw, this);
      this._redraw();
    },
    onRemove: function (map) {
      map.getPanes().overlayPane.removeChild(this._canvas);
      map.off("moveend resize", this._redraw, this);
    },
    _gradient: function () {
      if (this._grad) return this._grad;
      const c = document.createElement("canvas"); c.width = 1; c.height = 256;
      const ctx = c.getContext("2d"); const g = ctx.createLinearGradient(0, 0, 0, 256);
      [[0.25, "#2196f3"], [0.5, "#4caf50"], [0.7, "#ffeb3b"], [0.85, "#ff9800"], [1, "#d50000"]].forEach(([s, col]) => g.addColorStop(s, col));
      ctx.fillStyle = g; ctx.fillRect(0, 0, 1, 256);
      this._grad = ctx.getImageData(0, 0, 1, 256).data;
      return this._grad;
    },
    _redraw: function () {
      if (!this._map) return;
      const size = this._map.getSize(), r = this._opts.radius;
      const topLeft = this._map.containerPointToLayerPoint([0, 0]);
      L.DomUtil.setPosition(this._canvas, topLeft);
      this._canvas.width = size.x; this._canvas.height = size.y;
      const ctx = this._canvas.getContext("2d");
      const max = Math.max(1, ...this._points.map((p) => p[2]));
      const stamp = document.createElement("canvas"); stamp.width = stamp.height = r * 2;
      const sctx = stamp.getContext("2d"); const rg = sctx.createRadialGradient(r, r, 0, r, r, r);
      rg.addColorStop(0, "rgba(0,0,0,1)"); rg.addColorStop(1, "rgba(0,0,0,0)");
      sctx.fillStyle = rg; sctx.fillRect(0, 0, 2 * r, 2 * r);
      this._points.forEach(([lat, lng, w]) => {
        const p = this._map.latLngToContainerPoint([lat, lng]);
        ctx.globalAlpha = Math.min(1, 0.15 + w / max);
        ctx.drawImage(stamp, p.x - r, p.y - r);
      });
      const img = ctx.getImageData(0, 0, size.x, size.y), px = img.data, grad = this._gradient();
      for (let i = 3; i < px.length; i += 4) {
        const a = px[i];
        if (a) { px[i - 3] = grad[a * 4]; px[i - 2] = grad[a * 4 + 1]; px[i - 1] = grad[a * 4 + 2]; px[i] = Math.min(230, a + 40); }
      }
      ctx.putImageData(img, 0, 0);
      this._canvas.dataset.points = String(this._points.length);
    },
  });

  function attach(map, opts) {
    const heat = new HeatLayer([]).addTo(map);
    const hex = L.geoJSON(null, {
      className: "hex-cell",
      style: (f) => ({ color: "#ffffff", weight: 0.5, fillColor: f.properties.colour, fillOpacity: 0.65 }),
      onEachFeature: (f, l) => l.bindTooltip(`隐患 ${f.properties.count} 条`),
    });
    const points = L.geoJSON(null, {
      pointToLayer: (f, ll) => L.circleMarker(ll, { radius: 5, color: "#fff", weight: 1, fillColor: f.properties.severity === "major" ? "#b71c1c" : "#ff6f00", fillOpacity: 0.9, className: "hazard-point" }),
      onEachFeature: (f, l) => l.bindPopup(() => `<b>${esc(f.properties.care_home_name)}</b><br>${esc(f.properties.description)}<br><a href="/hazards/${Number(f.id)}/">查看隐患</a>`),
    });
    L.control.layers(null, { "热力图": heat, "六边形网格": hex, "隐患点（15级以上）": points }, { collapsed: false }).addTo(map);
    const form = document.getElementById(opts.formId);
    const months = opts.months;
    const slider = form.querySelector("[name=month_index]");
    const label = document.getElementById("month-label");

    function params(extra) {
      const p = new URLSearchParams(new FormData(form));
      const idx = Number(slider.value);
      p.delete("month_index");
      if (idx > 0) p.set("month", months[idx - 1]);
      label.textContent = idx > 0 ? months[idx - 1] : "全部月份";
      Object.entries(extra || {}).forEach(([k, v]) => p.set(k, v));
      return p;
    }

    // The filters and the view live in the page's URL: a refresh keeps them, a copied link shows the same map.
    function restore() {
      const q = new URLSearchParams(location.search);
      for (const name of ["severity", "category"]) if (q.get(name) !== null) form.elements[name].value = q.get(name);
      form.elements.open.checked = q.get("open") === "1";
      const idx = months.indexOf(q.get("month"));
      slider.value = String(idx >= 0 ? idx + 1 : 0);
      const z = Number(q.get("z")), lat = Number(q.get("lat")), lon = Number(q.get("lon"));
      if (q.get("z") && Number.isFinite(z) && Number.isFinite(lat) && Number.isFinite(lon)) map.setView([lat, lon], z);
      if (q.get("hex") === "1") map.addLayer(hex);
    }
    function remember() {
      const q = params();
      for (const [k, v] of [...q.entries()]) if (!v) q.delete(k);
      const c = map.getCenter();
      q.set("z", map.getZoom()); q.set("lat", c.lat.toFixed(5)); q.set("lon", c.lng.toFixed(5));
      if (map.hasLayer(hex)) q.set("hex", "1");
      history.replaceState(null, "", `${location.pathname}?${q}`);
    }

    async function load() {
      remember();
      const b = map.getBounds().toBBoxString();
      const z = map.getZoom();
      const data = await fetch(`${opts.heatUrl}?${params({ bbox: b, zoom: z })}`, { credentials: "same-origin" }).then((r) => r.json());
      heat.setPoints(data.points);
      document.getElementById("heat-total").textContent = data.total;
      // the ramp's ends in numbers: the busiest cell at this zoom holds this many hazards
      const peak = data.points.reduce((m, p) => Math.max(m, p[2]), 0);
      document.getElementById("heat-max").textContent = peak ? `${peak} 条` : "—";
      // hexagons sized to the zoom; the server refuses its finest grid for too wide a view, and the page says so
      const hint = document.getElementById("hex-hint");
      const edge = document.getElementById("hex-edge");
      hint.hidden = true;
      edge.hidden = true;
      hex.clearLayers();
      if (map.hasLayer(hex)) {
        const answer = await fetch(`${opts.hexUrl}?${params({ bbox: b, zoom: z })}`, { credentials: "same-origin" });
        if (answer.ok) {
          const cells = await answer.json();
          hex.addData(cells);
          // Web Mercator metres are longer than the ground's by 1 / cos(latitude)
          const ground = cells.edge_m * Math.cos((map.getCenter().lat * Math.PI) / 180);
          edge.querySelector("b").textContent = ground >= 1000 ? `${(ground / 1000).toFixed(1)} 千米` : `${Math.round(ground)} 米`;
          edge.hidden = false;
        } else hint.hidden = false;
      }
      points.clearLayers();
      if (z >= 15 && map.hasLayer(points)) {
        const feats = await fetch(`${opts.pointsUrl}?${params({ bbox: b, page_size: 1000 })}`, { credentials: "same-origin" }).then((r) => r.json());
        points.addData(feats);
      }
      map.getContainer().dataset.heatReady = "1";
    }

    form.addEventListener("change", load);
    slider.addEventListener("input", () => { label.textContent = Number(slider.value) > 0 ? months[Number(slider.value) - 1] : "全部月份"; });
    restore();
    map.on("moveend overlayadd overlayremove", load);
    load();
  }

  window.RiskHeat = { attach: attach };
})();
