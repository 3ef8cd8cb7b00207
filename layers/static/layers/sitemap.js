// Site-plan layers on a Leaflet map, all from the layer catalogue (/api/layers/): styles, layer control, legend,
// popups, and for roles that may edit: draw, move, edit attributes and delete, through the same REST API.
(function () {
  "use strict";

  function csrf() {
    const m = document.cookie.match(/csrftoken=([^;]+)/);
    return m ? decodeURIComponent(m[1]) : "";
  }

  // `version` is the feature's updated_at as loaded: the server refuses the write (409) if someone changed it since.
  async function api(method, url, body, version) {
    const headers = { "Content-Type": "application/json", "X-CSRFToken": csrf(), Accept: "application/json" };
    if (version) headers["If-Match"] = `"${version}"`;
    const r = await fetch(url, {
      method: method,
      headers: headers,
      body: body ? JSON.stringify(body) : undefined,
      credentials: "same-origin",
    });
    if (r.status === 204) return null;
    const data = await r.json().catch(() => ({}));
    if (!r.ok) {
      const errors = data.errors || data;
      const text = Object.entries(errors).map(([k, v]) => (k === "geometry" || k === "permission" ? v : k + "：" + v)).join("；");
      throw new Error(text || "保存失败（HTTP " + r.status + "）");
    }
    return data;
  }

  function esc(s) {
    return String(s == null ? "" : s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
  }

  function styleFor(spec, feature) {
    const st = spec.style;
    const bad = spec.status_field && spec.problem_values.includes(feature.properties[spec.status_field]);
    return {
      color: bad ? "#d50000" : st.colour, weight: st.width, dashArray: st.dash || null,
      fillColor: bad ? "#ff8a80" : (st.fill || st.colour), fillOpacity: 0.45, radius: st.radius,
    };
  }

  function valueText(field, props) {
    const v = props[field.name];
    if (v === null || v === undefined || v === "") return "—";
    if (field.values) return esc(props[field.name + "_label"] || v);
    if (field.kind === "bool") return v ? "是" : "否";
    return esc(v) + (field.unit ? " " + esc(field.unit) : "");
  }

  function popupHtml(spec, feature, editable) {
    const rows = spec.fields.map((f) => `<tr><th>${esc(f.label)}</th><td>${valueText(f, feature.properties)}</td></tr>`).join("");
    const tools = editable
      ? `<div class="feature-tools"><button type="button" data-act="attrs">编辑属性</button>
         <button type="button" data-act="shape">移动/修改形状</button><button type="button" data-act="delete">删除</button></div>` : "";
    return `<div class="feature-popup"><b>${esc(spec.title)}</b> <small>${esc(feature.properties.care_home_name)}</small>
            <table>${rows}</table>${tools}</div>`;
  }

  function fieldInput(f, value) {
    const name = `name="${esc(f.name)}"`;
    const req = f.required ? " required" : "";
    if (f.kind === "computed") return `<span class="muted">${esc(value == null ? "自动计算" : value)}</span>`;
    if (f.values) {
      const opts = f.values.map(([c, l]) => `<option value="${esc(c)}" ${c === value ? "selected" : ""}>${esc(l)}</option>`).join("");
      return `<select ${name}${req}><option value="">（请选择）</option>${opts}</select>`;
    }
    if (f.kind === "bool") {
      const o = (v, l) => `<option value="${v}" ${String(value) === v ? "selected" : ""}>${l}</option>`;
      return `<select ${name}><option value="">（未填）</option>${o("true", "是")}${o("false", "否")}</select>`;
    }
    const type = f.kind === "date" ? "date" : (f.kind === "int" || f.kind === "decimal") ? "number" : "text";
    const step = f.kind === "decimal" ? ' step="0.01"' : "";
    const lim = (f.min != null ? ` min="${f.min}"` : "") + (f.max != null ? ` max="${f.max}"` : "");
    return `<input type="${type}" ${name} value="${esc(value == null ? "" : value)}"${step}${lim}${req}>`;
  }

  function attach(map, opts) {
    const state = { specs: {}, groups: {}, panel: null };
    const legend = L.control({ position: "bottomleft" });
    const control = L.control.layers(null, {}, { collapsed: false, position: "topright" });

    function panel() {
      if (state.panel) return state.panel;
      const div = L.DomUtil.create("div", "feature-panel");
      div.id = "feature-panel";
      map.getContainer().parentNode.appendChild(div);
      state.panel = div;
      return div;
    }

    function openForm(spec, props, onSave, onCancel) {
      const div = panel();
      const fields = spec.fields.map((f) => `<label>${esc(f.label)}${f.unit ? "（" + esc(f.unit) + "）" : ""}${f.required ? " *" : ""}
          ${fieldInput(f, props[f.name])}</label>`).join("");
      div.innerHTML = `<h3>${esc(spec.title)}</h3><form>${fields}
          <label>备注<textarea name="note" rows="2">${esc(props.note || "")}</textarea></label>
          <p class="error" id="feature-error" hidden></p>
          <button type="submit" class="primary">保存</button> <button type="button" data-act="cancel">取消</button></form>`;
      div.hidden = false;
      const form = div.querySelector("form");
      form.querySelector("[data-act=cancel]").onclick = () => { div.hidden = true; if (onCancel) onCancel(); };
      form.onsubmit = async (e) => {
        e.preventDefault();
        const values = {};
        spec.fields.filter((f) => f.kind !== "computed").forEach((f) => {
          const v = form.elements[f.name].value;
          values[f.name] = v === "" ? null : f.kind === "bool" ? v === "true" : v;
        });
        values.note = form.elements.note.value;
        try {
          await onSave(values);
          div.hidden = true;
        } catch (err) {
          const p = div.querySelector("#feature-error");
          p.textContent = err.message;
          p.hidden = false;
        }
      };
    }

    function bindFeature(spec, feature, layer) {
      const editable = spec.editable && opts.editable;
      layer.bindPopup(() => popupHtml(spec, feature, editable), { maxWidth: 320 });
      if (!editable) return;
      layer.on("popupopen", (e) => {
        const el = e.popup.getElement();
        el.querySelector("[data-act=attrs]").onclick = () => {
          map.closePopup();
          openForm(spec, feature.properties, async (values) => {
            await api("PATCH", `${opts.apiBase}${spec.key}/${feature.id}/`, { type: "Feature", properties: values }, feature.properties.updated_at);
            reload(spec);
          });
        };
        el.querySelector("[data-act=shape]").onclick = () => {
          map.closePopup();
          layer.editing.enable();
          const div = panel();
          div.innerHTML = `<h3>修改${esc(spec.title)}的位置或形状</h3><p>拖动要素或其顶点，然后保存。</p><p class="error" id="feature-error" hidden></p>
            <button type="button" class="primary" data-act="save">保存位置</button> <button type="button" data-act="cancel">取消</button>`;
          div.hidden = false;
          div.querySelector("[data-act=cancel]").onclick = () => { layer.editing.disable(); div.hidden = true; reload(spec); };
          div.querySelector("[data-act=save]").onclick = async () => {
            try {
              await api("PATCH", `${opts.apiBase}${spec.key}/${feature.id}/`, { type: "Feature", geometry: layer.toGeoJSON().geometry, properties: {} }, feature.properties.updated_at);
              layer.editing.disable();
              div.hidden = true;
              reload(spec);
            } catch (err) {
              const p = div.querySelector("#feature-error");
              p.textContent = err.message;
              p.hidden = false;
            }
          };
        };
        el.querySelector("[data-act=delete]").onclick = async () => {
          if (!window.confirm(`删除这个${spec.title}？`)) return;
          try {
            await api("DELETE", `${opts.apiBase}${spec.key}/${feature.id}/`, null, feature.properties.updated_at);
          } catch (err) {
            window.alert(err.message);
          }
          map.closePopup();
          reload(spec);
        };
      });
    }

    function makeGroup(spec) {
      return L.geoJSON(null, {
        className: "layer-" + spec.key,
        style: (f) => styleFor(spec, f),
        pointToLayer: (f, latlng) => L.circleMarker(latlng, Object.assign({ className: "layer-" + spec.key }, styleFor(spec, f))),
        onEachFeature: (f, layer) => bindFeature(spec, f, layer),
      });
    }

    async function reload(spec) {
      const group = state.groups[spec.key];
      const params = new URLSearchParams({ page_size: "1000" });
      if (opts.careHome) params.set("care_home", opts.careHome);
      else {
        if (map.getZoom() < opts.minZoom) { group.clearLayers(); return; }
        params.set("bbox", map.getBounds().toBBoxString());
      }
      const data = await fetch(`${opts.apiBase}${spec.key}/?${params}`, { credentials: "same-origin" }).then((r) => r.json());
      group.clearLayers();
      group.addData(data);
    }

    function reloadAll() {
      return Promise.all(Object.values(state.specs).filter((spec) => map.hasLayer(state.groups[spec.key])).map(reload));
    }

    function fitToFeatures() {
      const bounds = L.latLngBounds([]);
      Object.values(state.groups).forEach((g) => { if (g.getLayers().length) bounds.extend(g.getBounds()); });
      if (bounds.isValid()) map.fitBounds(bounds.pad(0.25), { maxZoom: 19 });
    }

    function setupDrawing() {
      const editableSpecs = Object.values(state.specs).filter((s) => s.editable);
      if (!opts.editable || !editableSpecs.length || !L.Draw) return;
      const box = L.control({ position: "topleft" });
      box.onAdd = () => {
        const div = L.DomUtil.create("div", "draw-box leaflet-bar");
        div.id = "draw-box";
        div.innerHTML = `<select id="draw-layer"><option value="">＋ 绘制新要素…</option>${editableSpecs.map((s) => `<option value="${s.key}">${esc(s.title)}</option>`).join("")}</select>`;
        L.DomEvent.disableClickPropagation(div);
        div.querySelector("select").onchange = (e) => {
          const spec = state.specs[e.target.value];
          e.target.value = "";
          if (!spec) return;
          const type = spec.geometry[0];
          const shape = { color: spec.style.colour };
          const handler = type === "Point" ? new L.Draw.CircleMarker(map, { color: spec.style.colour })
            : type === "LineString" ? new L.Draw.Polyline(map, { shapeOptions: shape })
            : new L.Draw.Polygon(map, { shapeOptions: shape, allowIntersection: false });
          state.drawing = spec;
          handler.enable();
        };
        return div;
      };
      box.addTo(map);
      map.on(L.Draw.Event.CREATED, (e) => {
        const spec = state.drawing;
        if (!spec) return;
        const temp = e.layer.addTo(map);
        openForm(spec, {}, async (values) => {
          values.care_home = opts.careHome;
          await api("POST", `${opts.apiBase}${spec.key}/`, { type: "Feature", geometry: temp.toGeoJSON().geometry, properties: values });
          map.removeLayer(temp);
          if (!map.hasLayer(state.groups[spec.key])) map.addLayer(state.groups[spec.key]);
          reload(spec);
        }, () => map.removeLayer(temp));
      });
    }

    fetch(opts.catalogueUrl, { credentials: "same-origin" }).then((r) => r.json()).then((catalogue) => {
      catalogue.forEach((spec) => {
        state.specs[spec.key] = spec;
        state.groups[spec.key] = makeGroup(spec).addTo(map);
        const swatch = `<span class="layer-swatch" style="border-color:${spec.style.colour};background:${spec.style.fill || spec.style.colour}"></span>`;
        control.addOverlay(state.groups[spec.key], swatch + esc(spec.title));
      });
      control.addTo(map);
      legend.onAdd = () => {
        const div = L.DomUtil.create("div", "layer-legend");
        div.id = "layer-legend";
        div.innerHTML = "<b>图层图例</b>" + catalogue.map((s) => `<div class="legend-row" data-layer="${s.key}"><span class="layer-swatch" style="border-color:${s.style.colour};background:${s.style.fill || s.style.colour}"></span>${esc(s.title)}</div>`).join("")
          + (opts.careHome ? "" : `<div class="muted">放大到 ${opts.minZoom} 级显示要素</div>`)
          + `<div class="legend-row"><span class="layer-swatch" style="border-color:#d50000;background:#ff8a80"></span>问题要素（堵塞、上锁等）</div>`;
        return div;
      };
      legend.addTo(map);
      map.on("overlayadd", (e) => { const spec = Object.values(state.specs).find((s) => state.groups[s.key] === e.layer); if (spec) reload(spec); });
      if (!opts.careHome) map.on("moveend", reloadAll);
      reloadAll().then(() => {
        if (opts.careHome) fitToFeatures();
        map.getContainer().dataset.layersReady = "1";
      });
      setupDrawing();
    });
  }

  if (window.L && L.drawLocal) {
    const h = L.drawLocal.draw.handlers;
    h.circlemarker.tooltip.start = "点击地图放置要素";
    h.polyline.tooltip = { start: "点击开始画线", cont: "点击继续画线", end: "点击最后一个点结束" };
    h.polygon.tooltip = { start: "点击开始画面", cont: "点击继续画面", end: "点击第一个点闭合" };
    h.polyline.error = "<strong>错误：</strong>边不能相交";
  }

  window.GisLayers = { attach: attach };
})();
