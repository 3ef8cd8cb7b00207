"""The choropleth of the 街镇 (folium at the edge; the values come from the stored aggregates)."""

import json

import folium
from django.urls import reverse
from django.utils.html import format_html

from gis_app.carehomes.maps import subdistricts_geojson
from gis_app.carehomes.models import Subdistrict
from gis_app.lib.maps import base_map, popup, tooltip

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
    m = base_map()
    values = {r.subdistrict_id: float(value(r)) for r in rows}
    breaks = classes(list(values.values()))
    shapes = subdistricts_geojson(Subdistrict.objects.filter(pk__in=list(values)))
    by_code = {r.subdistrict.code: r for r in rows}
    for feature in shapes["features"]:
        row = by_code[feature["properties"]["code"]]
        v = values[row.subdistrict_id]
        style = {
            "color": "#5d4037",
            "weight": 1,
            "fillColor": colour(v, breaks),
            "fillOpacity": 0.75,
            "className": "choropleth",
        }
        html = format_html('<b>{}</b><br>{}：{}<br><a href="{}" target="_top">查看本街镇养老机构 »</a>', row.subdistrict.name, label,
                            v, reverse("risk-subdistrict", args=[row.subdistrict.code]))  # fmt: skip
        folium.GeoJson(
            json.loads(json.dumps(feature)),
            style_function=lambda _f, s=style: s,
            tooltip=tooltip(f"{row.subdistrict.name}：{v:g}"),
            popup=popup(html),
        ).add_to(m)
    if shapes["features"]:
        from gis_app.carehomes.maps import _bounds

        m.fit_bounds(_bounds(None, Subdistrict.objects.filter(pk__in=list(values))), padding=(10, 10))
    legend = [(f"{breaks[i - 1]:.1f} – {breaks[i]:.1f}", RAMP[i]) for i in range(1, len(breaks))]
    return m, legend
