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
      const err = new Error(text || "保存失败（HTTP " + r.status + "）");
      err.duplicate = data.code === "duplicate" ? data.duplicate_of : null;
      throw err;
    }
    return data;
  }

  function esc(s) {
    return String(s == null ? "" : s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
  }

  // A problem feature (a locked exit, a blocked lane, a charging area marked 不符合要求) is drawn in red.
  function isProblem(spec, props) {
    return Boolean(spec.status_field && spec.problem_values.includes(props[spec.status_field]))
      || (spec.problem_flags || []).some((name) => props[name] === false);
  }

  function styleFor(spec, feature) {
    const st = spec.style;
    const bad = isProblem(spec, feature.properties);
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
      const box = map.getContainer().closest(".site-plan") || map.getContainer().parentNode;
      box.after(div);  // below the map's fixed-height box, in the page's flow
      state.panel = div;
      return div;
    }

    // The panel opens below the map: brought into view, its first field focused, so the editor sees what to fill.
    function show(div) {
      div.hidden = false;
      div.scrollIntoView({ block: "nearest" });
      const first = div.querySelector("select, input, textarea, button.primary");
      if (first) first.focus({ preventScroll: true });
    }

    // What just happened, said once in a line over the map (a screen reader hears it too).
    function say(text, kind) {
      let line = document.getElementById("feature-status");
      if (!line) {
        line = L.DomUtil.create("div", "feature-status");
        line.id = "feature-status";
        line.setAttribute("role", "status");
        map.getContainer().appendChild(line);
      }
      line.textContent = text;
      line.className = "feature-status " + (kind || "ok");
      line.hidden = false;
      clearTimeout(state.sayTimer);
      state.sayTimer = setTimeout(() => { line.hidden = true; }, 8000);
    }

    function openForm(spec, props, onSave, onCancel) {
      const div = panel();
      const fields = spec.fields.map((f) => `<label>${esc(f.label)}${f.unit ? "（" + esc(f.unit) + "）" : ""}${f.required ? " *" : ""}
          ${fieldInput(f, props[f.name])}</label>`).join("");
      div.innerHTML = `<h3>${esc(spec.title)}</h3><form>${fields}
          <label>备注<textarea name="note" rows="2">${esc(props.note || "")}</textarea></label>
          <p class="error" id="feature-error" hidden></p>
          <div class="duplicate-warning" id="feature-duplicate" hidden><p></p>
            <button type="button" data-act="anyway">仍然保存</button> <button type="button" data-act="drop">不保存，放弃这个要素</button></div>
          <button type="submit" class="primary">保存</button> <button type="button" data-act="cancel">取消</button></form>`;
      show(div);
      const form = div.querySelector("form");
      const cancel = () => { div.hidden = true; if (onCancel) onCancel(); };
      form.querySelector("[data-act=cancel]").onclick = cancel;
      form.querySelector("[data-act=drop]").onclick = () => { cancel(); say(`已放弃绘制的${spec.title}`, "info"); };
      const values = () => {
        const out = {};
        spec.fields.filter((f) => f.kind !== "computed").forEach((f) => {
          const v = form.elements[f.name].value;
          out[f.name] = v === "" ? null : f.kind === "bool" ? v === "true" : v;
        });
        out.note = form.elements.note.value;
        return out;
      };
      const save = async (anyway) => {
        const error = div.querySelector("#feature-error");
        const duplicate = div.querySelector("#feature-duplicate");
        error.hidden = true;
        duplicate.hidden = true;
        try {
          await onSave(values(), anyway);
          div.hidden = true;
        } catch (err) {
          if (err.duplicate) {  // probably drawn twice: the editor looks, then saves anyway or drops it
            duplicate.querySelector("p").textContent = err.message + "。请核对地图上已有的要素。";
            duplicate.hidden = false;
            duplicate.scrollIntoView({ block: "nearest" });
            return;
          }
          error.textContent = err.message;
          error.hidden = false;
          error.scrollIntoView({ block: "nearest" });
        }
      };
      form.querySelector("[data-act=anyway]").onclick = () => save(true);
      form.onsubmit = (e) => { e.preventDefault(); save(false); };
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
            say(`已保存${spec.title}的属性`);
            reload(spec);
          });
        };
        el.querySelector("[data-act=shape]").onclick = () => {
          map.closePopup();
          layer.editing.enable();
          const div = panel();
          div.innerHTML = `<h3>修改${esc(spec.title)}的位置或形状</h3><p>拖动要素或其顶点，然后保存。</p><p class="error" id="feature-error" hidden></p>
            <button type="button" class="primary" data-act="save">保存位置</button> <button type="button" data-act="cancel">取消</button>`;
          show(div);
          div.querySelector("[data-act=cancel]").onclick = () => { layer.editing.disable(); div.hidden = true; reload(spec); };
          div.querySelector("[data-act=save]").onclick = async () => {
            try {
              await api("PATCH", `${opts.apiBase}${spec.key}/${feature.id}/`, { type: "Feature", geometry: layer.toGeoJSON().geometry, properties: {} }, feature.properties.updated_at);
              layer.editing.disable();
              div.hidden = true;
              say(`已保存${spec.title}的新位置`);
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
            say(`已删除${spec.title}`);
          } catch (err) {
            say(err.message, "error");
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

    // Drawing: pick a layer, then click (or tap) the map: a point is placed at once; a line or an area gets a vertex
    // per click with 撤销上一点 / 完成 / 取消 beside the picker (a double click also finishes, Esc cancels). Then the
    // attribute form opens in view. A feature that probably repeats one already drawn is shown to the editor, who
    // decides (the server checks: check_duplicates=true). Map clicks drive it, so mouse, touch and pen behave alike.
    function setupDrawing() {
      const editableSpecs = Object.values(state.specs).filter((s) => s.editable);
      if (!opts.editable || !editableSpecs.length) return;
      const box = L.control({ position: "topleft" });
      let ui = null;
      box.onAdd = () => {
        const div = L.DomUtil.create("div", "draw-box leaflet-bar");
        div.id = "draw-box";
        div.innerHTML = `<select id="draw-layer" aria-label="绘制新要素"><option value="">＋ 绘制新要素…</option>${editableSpecs.map((s) => `<option value="${s.key}">${esc(s.title)}</option>`).join("")}</select>
          <div class="draw-actions" id="draw-actions" hidden><span id="draw-hint"></span>
            <button type="button" data-act="undo">撤销上一点</button><button type="button" data-act="finish">完成</button><button type="button" data-act="cancel">取消</button></div>`;
        L.DomEvent.disableClickPropagation(div);
        ui = {
          actions: div.querySelector("#draw-actions"),
          undo: div.querySelector("[data-act=undo]"),
          finish: div.querySelector("[data-act=finish]"),
          hint: div.querySelector("#draw-hint"),
        };
        ui.undo.onclick = () => { if (state.sketch) state.sketch.undo(); };
        ui.finish.onclick = () => { if (state.sketch) state.sketch.finish(); };
        div.querySelector("[data-act=cancel]").onclick = () => { if (state.sketch) state.sketch.stop(); };
        div.querySelector("select").onchange = (e) => {
          const spec = state.specs[e.target.value];
          e.target.value = "";
          if (spec) startSketch(spec);
        };
        return div;
      };
      box.addTo(map);

      function startSketch(spec) {
        if (state.sketch) state.sketch.stop();
        const type = spec.geometry[0];
        const needed = type === "Polygon" ? 3 : type === "LineString" ? 2 : 1;
        const points = [];
        const style = { color: spec.style.colour, weight: 3, dashArray: "6 4", fillOpacity: 0.2, interactive: false };
        const shape = type === "Polygon" ? L.polygon([], style) : type === "LineString" ? L.polyline([], style) : null;
        const marks = L.layerGroup().addTo(map);
        if (shape) shape.addTo(map);
        const container = map.getContainer();
        const refresh = () => {
          ui.undo.hidden = ui.finish.hidden = needed === 1;
          ui.undo.disabled = points.length === 0;
          ui.finish.disabled = points.length < needed;
          ui.hint.textContent = needed === 1 ? `在地图上点击放置${spec.title}`
            : `正在绘制${spec.title}：已点 ${points.length} 个点` + (points.length < needed ? `，至少需要 ${needed} 个` : "，点“完成”结束");
        };
        const redraw = () => {
          marks.clearLayers();
          points.forEach((p) => L.circleMarker(p, { radius: 4, color: spec.style.colour, fillOpacity: 1, interactive: false }).addTo(marks));
          if (shape) shape.setLatLngs(points);
          refresh();
        };
        const onClick = (e) => {
          const last = points[points.length - 1];
          if (last && map.latLngToContainerPoint(last).distanceTo(e.containerPoint) < 4) return;  // a double click's twin
          points.push(e.latlng);
          redraw();
          if (needed === 1) sketch.finish();
        };
        const onDouble = () => { if (points.length >= needed) sketch.finish(); };
        const onKey = (e) => { if (e.key === "Escape") sketch.stop(); };
        const sketch = {
          undo() { points.pop(); redraw(); },
          stop() {
            map.off("click", onClick);
            map.off("dblclick", onDouble);
            document.removeEventListener("keydown", onKey);
            map.doubleClickZoom.enable();
            container.classList.remove("drawing");
            marks.remove();
            if (shape) shape.remove();
            ui.actions.hidden = true;
            state.sketch = null;
          },
          finish() {
            if (points.length < needed) return;
            const geometry = type === "Point" ? { type: "Point", coordinates: [points[0].lng, points[0].lat] }
              : L[type === "Polygon" ? "polygon" : "polyline"](points).toGeoJSON().geometry;
            sketch.stop();
            const temp = L.geoJSON(geometry, { style: () => style, pointToLayer: (f, ll) => L.circleMarker(ll, style) }).addTo(map);
            openForm(spec, {}, async (values, anyway) => {
              values.care_home = opts.careHome;
              const check = anyway ? "" : "?check_duplicates=true";
              const saved = await api("POST", `${opts.apiBase}${spec.key}/${check}`, { type: "Feature", geometry: geometry, properties: values });
              map.removeLayer(temp);
              if (!map.hasLayer(state.groups[spec.key])) map.addLayer(state.groups[spec.key]);
              say(`已保存新的${spec.title}` + (isProblem(spec, saved.properties) ? "（问题要素，红色显示）" : ""));
              reload(spec);
            }, () => map.removeLayer(temp));
          },
        };
        state.sketch = sketch;
        map.on("click", onClick);
        map.on("dblclick", onDouble);
        document.addEventListener("keydown", onKey);
        map.doubleClickZoom.disable();
        container.classList.add("drawing");
        ui.actions.hidden = false;
        refresh();
      }
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
          + `<div class="legend-row"><span class="layer-swatch" style="border-color:#d50000;background:#ff8a80"></span>问题要素（堵塞、上锁、不符合要求等）</div>`;
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

  window.GisLayers = { attach: attach };
})();
