"""The choropleth of the 街镇 (folium at the edge; the values come from the stored aggregates)."""

from urllib.parse import quote

import folium
from django.urls import reverse

from gis_app.carehomes.maps import subdistricts_geojson
from gis_app.carehomes.models import Subdistrict
from gis_app.lib.maps import PropertyPopup, PropertyTooltip, base_map, layer_name

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
    """All 街镇 in one GeoJSON layer (3,000 of them stay one object, not one layer and popup each)."""
    m = base_map()
    values = {r.subdistrict_id: float(value(r)) for r in rows}
    breaks = classes(list(values.values()))
    shapes = subdistricts_geojson(Subdistrict.objects.filter(pk__in=list(values)))
    by_code = {r.subdistrict.code: r for r in rows}
    features = []
    link = reverse("risk-subdistrict", args=["CODE"]).replace("CODE", "{}")  # one reverse, not 3,000
    for feature in shapes["features"]:
        row = by_code[feature["properties"]["code"]]
        v = values[row.subdistrict_id]
        props = {
            "name": row.subdistrict.name,
            "value": f"{v:g}",
            "fill": colour(v, breaks),
            "link": link.format(quote(row.subdistrict.code, safe="")),
        }
        features.append({"type": "Feature", "geometry": feature["geometry"], "properties": props})
    if features:
        folium.GeoJson(
            {"type": "FeatureCollection", "features": features},
            name=layer_name(label),
            style_function=lambda f: {**STYLE, "fillColor": f["properties"]["fill"]},
            tooltip=PropertyTooltip(["name", "value"], ["", label]),
            popup=PropertyPopup(["name", "value"], ["", label], link_field="link", link_text="查看本街镇养老机构 »"),
        ).add_to(m)
        from gis_app.carehomes.maps import _bounds

        m.fit_bounds(_bounds(None, Subdistrict.objects.filter(pk__in=list(values))), padding=(10, 10))
    legend = [(f"{breaks[i - 1]:.1f} – {breaks[i]:.1f}", RAMP[i]) for i in range(1, len(breaks))]
    return m, legend
