"""folium at the edge: a Leaflet map whose assets are served from our own /static/, never from a CDN.

The basemap comes from settings (Tianditu with a key, OSM, or none: a blank background that works offline).
"""

import folium
from django.conf import settings
from django.templatetags.static import static


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


def base_map(*, location=(39.0, 117.6), zoom_start: int = 10, height: str = "100%") -> LocalMap:
    m = LocalMap(location=location, zoom_start=zoom_start, tiles=None, height=height, control_scale=True,
                 prefer_canvas=False)  # fmt: skip
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


def render_parts(m: folium.Map) -> dict:
    """The map split into head (links), body (div) and script, to place inline in a Django template."""
    figure = m.get_root()
    figure.render()
    return {
        "map_id": m.get_name(),
        "map_header": figure.header.render(),
        "map_html": figure.html.render(),
        "map_script": figure.script.render(),
    }
