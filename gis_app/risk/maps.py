"""The choropleth of the 街镇 (folium at the edge; the values come from the stored aggregates)."""

import folium
from django.db import connection
from django.urls import reverse

from gis_app.carehomes.maps import boundaries_url
from gis_app.carehomes.models import Subdistrict
from gis_app.lib.maps import PropertyPopup, PropertyTooltip, RemoteGeoJson, base_map

STYLE = {"color": "#5d4037", "weight": 1, "fillOpacity": 0.75, "className": "choropleth"}
RAMP = ["#fff5f0", "#fdd0b9", "#fc9373", "#f14f33", "#bd1519", "#67000d"]


def classes(values: list[float], n: int = 5) -> list[float]:
    """Equal-interval class breaks between the smallest and the largest value."""
    lo, hi = (min(values), max(values)) if values else (0, 1)
    if hi == lo:
        hi = lo + 1
    return [lo + (hi - lo) * i / n for i in range(n + 1)]


def colour(value: float, breaks: list[float]) -> str:
    for i in range(1, len(breaks)):
        if value <= breaks[i]:
            return RAMP[i]
    return RAMP[-1]


def choropleth(rows, label: str, value) -> tuple[folium.Map, list]:
    """All 街镇 in one layer whose polygons the browser fetches from the shared boundaries file (3,000 of them stay
    one object and out of the page); the page carries only each 街镇's value and colour."""
    m = base_map()
    values = {r.subdistrict.code: float(value(r)) for r in rows}
    breaks = classes(list(values.values()))
    if values:
        layer = RemoteGeoJson(
            boundaries_url(),
            name=label,
            style=STYLE,
            values={code: {"value": f"{v:g}", "fill": colour(v, breaks)} for code, v in values.items()},
            link=reverse("risk-subdistrict", args=["CODE"]).replace("CODE", "{code}"),
        )
        PropertyTooltip(["name", "value"], ["", label]).add_to(layer)
        PropertyPopup(["name", "value"], ["", label], link_field="link", link_text="查看本街镇养老机构 »").add_to(layer)
        layer.add_to(m)
        # the ids as one array parameter: an IN list of 3,000 placeholders cost ~40 ms to build and send
        with connection.cursor() as cur:
            cur.execute(
                "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (SELECT ST_Extent(boundary) AS e "
                f"FROM {Subdistrict._meta.db_table} WHERE id = ANY(%s)) t",
                [[r.subdistrict_id for r in rows]],
            )
            minx, miny, maxx, maxy = cur.fetchone()
        if minx is not None:
            m.fit_bounds([[miny, minx], [maxy, maxx]], padding=(10, 10))
    legend = [(f"{breaks[i - 1]:.1f} – {breaks[i]:.1f}", RAMP[i]) for i in range(1, len(breaks))]
    return m, legend
