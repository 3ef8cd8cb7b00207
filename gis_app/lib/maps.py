"""folium at the edge: a Leaflet map whose assets are served from our own /static/, never from a CDN.

The basemap comes from settings (Tianditu with a key, OSM, or none: a blank background that works offline).
"""

import re

import folium
import jinja2
from branca.element import MacroElement
from django.conf import settings
from django.templatetags.static import static
from django.utils.html import conditional_escape, escape


class LocalMap(folium.Map):
    """folium.Map without its CDN assets: Leaflet from django-leaflet's copy, and the jQuery that folium's popups
    call, from Django admin's copy. No Bootstrap or icon fonts: our markers are vector circles."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.default_js = [
            ("jquery", static("admin/js/vendor/jquery/jquery.min.js")),
            ("leaflet", static("leaflet/leaflet.js")),
        ]
        self.default_css = [("leaflet_css", static("leaflet/leaflet.css")), ("map_css", static("css/map.css"))]

    def fit_bounds(self, bounds, **kwargs) -> None:
        """The page's framing, at once: an animated fit ends a frame later, after a page script that restored a saved
        view (the heatmap's link) has set it, and undid it."""
        fit = folium.map.FitBounds(bounds, **kwargs)
        fit.options["animate"] = False
        self.add_child(fit)


class MetricScale(MacroElement):
    """A scale bar in metres and kilometres only (Leaflet's default adds miles and feet)."""

    _template = jinja2.Template(
        """
        {% macro script(this, kwargs) %}
            L.control.scale({imperial: false, maxWidth: 160}).addTo({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )


def base_map(*, location=(39.0, 117.6), zoom_start: int = 10, height: str = "100%") -> LocalMap:
    m = LocalMap(location=location, zoom_start=zoom_start, tiles=None, height=height, control_scale=False,
                 prefer_canvas=False)  # fmt: skip
    MetricScale().add_to(m)
    if settings.BASEMAP_TILE_URL:
        folium.TileLayer(
            tiles=settings.BASEMAP_TILE_URL, attr=settings.BASEMAP_ATTRIBUTION, name="底图", subdomains="01234567",
            max_zoom=18,
        ).add_to(m)  # fmt: skip
        if settings.BASEMAP_LABEL_URL:
            folium.TileLayer(
                tiles=settings.BASEMAP_LABEL_URL, attr=settings.BASEMAP_ATTRIBUTION, name="注记", overlay=True,
                subdomains="01234567", max_zoom=18,
            ).add_to(m)  # fmt: skip
    return m


_LEAFLET_GLOBALS = re.compile(r"<script>\s*L_NO_TOUCH = false;\s*L_DISABLE_3D = false;\s*</script>")


def render_parts(m: folium.Map) -> dict:
    """The map split into head (links), body (div) and script, to place inline in a Django template."""
    figure = m.get_root()
    figure.render()
    return {
        "map_id": m.get_name(),
        # folium's header sets two Leaflet globals to their defaults in an inline script, which the CSP refuses.
        "map_header": _LEAFLET_GLOBALS.sub("", figure.header.render()),
        "map_html": figure.html.render(),
        "map_script": figure.script.render(),
    }


# folium renders tooltips, popups and layer names as HTML, and places tooltip and popup text inside JavaScript
# template literals (`...`), where a backtick or `${...}` in a care home's name would run as code. Every map in the
# platform goes through the helpers below instead: the text is HTML-escaped (unless it is already a SafeString built
# with format_html) and handed to Leaflet as a JSON string, never spliced into the script.
# Our own Jinja environment: JSON keeps Chinese as it is (readable, and smaller) while <, >, & and ' stay escaped.
_JINJA = jinja2.Environment()
_JINJA.policies["json.dumps_kwargs"] = {"ensure_ascii": False, "sort_keys": True}
Template = _JINJA.from_string
_SAFE_TOOLTIP = Template(
    """
    {% macro script(this, kwargs) %}
        {{ this._parent.get_name() }}.bindTooltip({{ this.html|tojson }}, {{ this.options|tojson }});
    {% endmacro %}
    """
)
_SAFE_POPUP = Template(
    """
    {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = L.popup({{ this.options|tojson }}).setContent({{ this.html|tojson }});
        {{ this._parent.get_name() }}.bindPopup({{ this.get_name() }});
    {% endmacro %}
    """
)
# The properties' values are written with textContent: whatever an import put into a 街镇 name stays text.
_PROPERTY_LINES = """
            var props = layer.feature.properties || {}, div = L.DomUtil.create("div");
            {{ this.fields|tojson }}.forEach(function (field, i) {
                var value = props[field];
                if (value === null || value === undefined || value === "") return;
                var line = L.DomUtil.create("div", "", div), label = {{ this.labels|tojson }}[i];
                line.textContent = label ? label + "：" + value : String(value);
            });
"""
_PROPERTY_TOOLTIP = Template(
    """
    {% macro script(this, kwargs) %}
        {{ this._parent.get_name() }}.bindTooltip(function (layer) {
            {PROPERTY_LINES}
            return div;
        }, {{ this.options|tojson }});
    {% endmacro %}
    """.replace("{PROPERTY_LINES}", _PROPERTY_LINES.strip())
)


# A popup from feature properties, with a link: lines written with textContent, the link's address from a property the
# platform wrote (a path of its own, checked to start with "/"), its text fixed.
_PROPERTY_POPUP = Template(
    """
    {% macro script(this, kwargs) %}
        {{ this._parent.get_name() }}.bindPopup(function (layer) {
            {PROPERTY_LINES}
            var href = props[{{ this.link_field|tojson }}];
            if (typeof href === "string" && href.charAt(0) === "/" && href.charAt(1) !== "/") {
                var a = L.DomUtil.create("a", "", div);
                a.href = href; a.target = "_top"; a.textContent = {{ this.link_text|tojson }};
            }
            return div;
        }, {{ this.options|tojson }});
    {% endmacro %}
    """.replace("{PROPERTY_LINES}", _PROPERTY_LINES.strip())
)


class SafeTooltip(folium.Tooltip):
    # A folium.Tooltip subclass so that every folium element accepts it as `tooltip=`; folium's own __init__ is skipped.
    def __init__(self, text, *, sticky: bool = True):
        MacroElement.__init__(self)
        self._name = "Tooltip"
        self._template = _SAFE_TOOLTIP
        self.html = str(conditional_escape(text))
        self.options = {"sticky": sticky}


class SafePopup(folium.Popup):
    def __init__(self, html, *, max_width: int = 320):
        MacroElement.__init__(self)
        self._name = "Popup"
        self._template = _SAFE_POPUP
        self.html = str(conditional_escape(html))
        self.options = {"maxWidth": max_width}

    render = MacroElement.render  # folium's Popup.render expects its own non-macro template


class PropertyTooltip(folium.Tooltip):
    """A GeoJSON layer's tooltip from feature properties (`fields`), each line prefixed by its label when given."""

    def __init__(self, fields: list[str], labels: list[str] | None = None, *, sticky: bool = True):
        MacroElement.__init__(self)
        self._name = "PropertyTooltip"
        self._template = _PROPERTY_TOOLTIP
        self.fields = list(fields)
        self.labels = list(labels) if labels else [""] * len(self.fields)
        self.options = {"sticky": sticky}


class PropertyPopup(folium.Popup):
    """A GeoJSON layer's popup from feature properties, plus a link to the path in `link_field`."""

    def __init__(self, fields, labels=None, *, link_field: str, link_text: str, max_width: int = 320):
        MacroElement.__init__(self)
        self._name = "PropertyPopup"
        self._template = _PROPERTY_POPUP
        self.fields = list(fields)
        self.labels = list(labels) if labels else [""] * len(self.fields)
        self.link_field, self.link_text = link_field, link_text
        self.options = {"maxWidth": max_width}

    render = MacroElement.render


def tooltip(text) -> SafeTooltip:
    return SafeTooltip(text)


def popup(html, *, max_width: int = 320) -> SafePopup:
    """`html` built with format_html (a SafeString) is kept as markup; any other text is escaped."""
    return SafePopup(html, max_width=max_width)


def layer_name(text) -> str:
    """Leaflet's layer control writes names as HTML."""
    return str(escape(text))


_REMOTE_GEOJSON = Template(
    """
    {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = L.geoJson(null, {
            style: function (feature) {
                var style = Object.assign({}, {{ this.style|tojson }});
                var fill = feature.properties[{{ this.fill_field|tojson }}];
                if (typeof fill === "string" && /^#[0-9a-fA-F]{6}$/.test(fill)) style.fillColor = fill;
                return style;
            }{% if this.point %},
            pointToLayer: function (feature, latlng) { return L.circleMarker(latlng, {{ this.point|tojson }}); }
            {%- endif %}
        });
        {%- if this.highlight %}
        {{ this.get_name() }}.on("mouseover", function (e) { e.layer.setStyle({{ this.highlight|tojson }}); });
        {{ this.get_name() }}.on("mouseout", function (e) { {{ this.get_name() }}.resetStyle(e.layer); });
        {%- endif %}
        (function (layer) {
            var values = {{ this.values|tojson }}, keep = {{ this.codes|tojson }}, link = {{ this.link|tojson }};
            var own = function (o, k) { return Object.prototype.hasOwnProperty.call(o, k); };
            var only = keep === null ? null : new Set(keep);
            fetch({{ this.url|tojson }}, {credentials: "same-origin"})
                .then(function (r) { if (!r.ok) throw new Error("HTTP " + r.status); return r.json(); })
                .then(function (data) {
                    data.features = data.features.filter(function (f) {
                        var code = f.properties.code;
                        if (only !== null && !only.has(code)) return false;
                        if (values === null) return true;
                        if (!own(values, code)) return false;
                        Object.assign(f.properties, values[code]);
                        if (link) f.properties.link = link.replace("{code}", encodeURIComponent(code));
                        return true;
                    });
                    layer.addData(data);
                    {%- if this.back %}
                    layer.bringToBack();  // drawn under what the page drew before it arrived (homes stay clickable)
                    {%- endif %}
                })
                .catch(function (e) { console.error("地图图层数据加载失败", e); });
        })({{ this.get_name() }});
    {% endmacro %}
    """
)


class RemoteGeoJson(folium.map.Layer):
    """A GeoJSON layer the browser fetches from `url`, so that a page drawing the 3,000 街镇 of a country embeds none
    of their polygons (the file is served once and kept by the browser under a versioned address).

    `codes` keeps only the features whose `code` property is listed (None: all). `values` (code → properties) keeps
    only the features it names and adds their properties (a choropleth's value and colour); `fill_field` names the
    property that holds a feature's fill colour; `link` is a path with `{code}` for a popup's link; `point` draws
    points as circle markers with those options. Every text reaches the page through JSON and the tooltips and popups
    write it with textContent."""

    def __init__(
        self,
        url,
        *,
        name,
        style,
        highlight=None,
        codes=None,
        values=None,
        fill_field="fill",
        link="",
        control=True,
        point=None,
        back=False,
    ):
        super().__init__(name=layer_name(name), overlay=True, control=control, show=True)
        self._name = "RemoteGeoJson"
        self._template = _REMOTE_GEOJSON
        self.url, self.style, self.highlight = url, style, highlight
        self.codes = None if codes is None else list(codes)
        self.values, self.fill_field, self.link = values, fill_field, link
        self.point = point  # Leaflet circleMarker options: points drawn as circles
        self.back = back  # a context layer (街镇 boundaries): below every other overlay once it arrives
