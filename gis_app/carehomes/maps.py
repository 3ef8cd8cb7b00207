"""Maps of the registry. The numbers and shapes come from querysets; folium only draws them."""

import hashlib
import json

import folium
from django.contrib.gis.db.models.functions import PointOnSurface
from django.db import connection
from django.urls import reverse
from django.utils.html import format_html

from gis_app.lib.maps import PropertyTooltip, RemoteGeoJson, base_map, popup, tooltip

from .models import CareHomeStatus

# Marker colour tells the hazard state of a home at a glance: overdue is red everywhere in the platform.
OVERDUE, OPEN, CLEAR, INACTIVE = "#c62828", "#f9a825", "#1565c0", "#9e9e9e"
LEGEND = [("有逾期隐患", OVERDUE), ("有在办隐患", OPEN), ("无在办隐患", CLEAR), ("停业或关闭", INACTIVE)]


def marker_colour(home, summary: dict | None) -> str:
    if summary and summary["overdue"]:
        return OVERDUE
    if summary and summary["open"]:
        return OPEN
    if home.status != CareHomeStatus.OPERATING:
        return INACTIVE
    return CLEAR


SUBDISTRICT_STYLE = {"color": "#6a1b9a", "weight": 1.5, "fillColor": "#ce93d8", "fillOpacity": 0.12,
                     "className": "subdistrict"}  # fmt: skip


# Every map draws the 街镇 from one file of all their simplified boundaries (public: /public/ shows them to anyone),
# fetched by the browser and kept under an address that names its version. A country's 3,000 polygons are ~1 MB:
# embedded, each page spent ~0.25 s parsing and re-serialising them; now a page names the version (one small query).
SIMPLIFY = 0.0003  # degrees, ~30 m: display only
APPROXIMATE_NOTE = "演示用近似边界"


def boundaries_version() -> str:
    """Changes when a 街镇 is added, removed or saved (the importer and the admin save; updated_at moves)."""
    with connection.cursor() as cur:
        cur.execute("SELECT count(*), max(updated_at), sum(id) FROM carehomes_subdistrict")
        return hashlib.sha256(repr(cur.fetchone()).encode()).hexdigest()[:16]


def boundaries_file() -> bytes:
    """The FeatureCollection of every 街镇, written by PostgreSQL in one statement."""
    with connection.cursor() as cur:
        cur.execute(
            """
            SELECT json_build_object('type', 'FeatureCollection', 'features', coalesce(json_agg(json_build_object(
                'type', 'Feature',
                'geometry', ST_AsGeoJSON(ST_SimplifyPreserveTopology(boundary, %s), 5)::json,
                'properties', json_build_object('code', code, 'name', name,
                                                'note', CASE WHEN boundary_is_approximate THEN %s ELSE '' END)
            ) ORDER BY code), '[]'::json))::text
            FROM carehomes_subdistrict
            """,
            [SIMPLIFY, APPROXIMATE_NOTE],
        )
        return cur.fetchone()[0].encode()


def boundaries_url() -> str:
    return f"{reverse('subdistrict-boundaries')}?v={boundaries_version()}"


def _shown(subdistricts) -> tuple[int, list[str] | None]:
    """How many 街镇 the queryset holds, and their codes (None when it holds all of them: nothing to filter)."""
    from .models import Subdistrict

    shown = subdistricts.count()
    if shown == Subdistrict.objects.count():
        return shown, None
    return shown, list(subdistricts.values_list("code", flat=True))


LABEL_LIMIT = 300  # above this many 街镇 (a province) the names show on hover only


def add_subdistricts(m: folium.Map, subdistricts, labels: bool = True) -> None:
    shown, codes = _shown(subdistricts)
    if not shown:
        return
    if labels and shown <= LABEL_LIMIT:
        for name, point in subdistricts.annotate(p=PointOnSurface("boundary")).values_list("name", "p"):
            folium.Marker(
                (point.y, point.x),
                icon=folium.DivIcon(
                    html=format_html('<span class="subdistrict-label">{}</span>', name),
                    icon_size=(120, 18),
                    icon_anchor=(60, 9),
                    class_name="subdistrict-label-icon",
                ),
                interactive=False,
                keyboard=False,
            ).add_to(m)
    layer = RemoteGeoJson(
        boundaries_url(),
        name="街镇边界",
        style=SUBDISTRICT_STYLE,
        highlight={"weight": 3, "fillOpacity": 0.25},
        codes=codes,
        back=True,
    )
    PropertyTooltip(["name", "note"], ["街镇", ""]).add_to(layer)
    layer.add_to(m)


def popup_html(home, summary: dict | None = None) -> str:
    hazards = (
        format_html("<br>在办隐患 {} 条，逾期 {} 条", summary["open"], summary["overdue"])
        if summary
        else "<br>无在办隐患"
    )
    return format_html(
        '<div class="popup"><b>{}</b>{}<br>床位 {} · 在院 {}<br>消防安全责任人：{}{}<br>'
        '<a href="{}" target="_top">查看详情 »</a></div>',
        home.name,
        format_html(' <span class="badge">{}</span>', home.get_status_display())
        if home.status != CareHomeStatus.OPERATING
        else "",
        home.beds,
        home.residents,
        home.fire_safety_owner or "未填写",
        hazards,
        reverse("carehome-detail", args=[home.pk]),
    )


def add_carehomes(m: folium.Map, homes, hazards: dict | None = None) -> None:
    hazards = hazards or {}
    layer = folium.FeatureGroup(name="养老机构")
    for home in homes:
        if home.location is None:  # 未定位: listed under 待定位, not on a map
            continue
        summary = hazards.get(home.pk)
        folium.CircleMarker(
            location=(home.location.y, home.location.x),
            radius=7,
            color="#ffffff",
            weight=1.5,
            fill=True,
            fill_color=marker_colour(home, summary),
            fill_opacity=0.95,
            class_name="carehome-marker",
            tooltip=tooltip(home.name),
            popup=popup(popup_html(home, summary)),
        ).add_to(layer)
    layer.add_to(m)


# Above this many homes the overview embeds none: the page fetches the homes in view from the API at street zoom.
EMBED_LIMIT = 2000


def overview_map(*, homes, subdistricts, hazards: dict | None = None, embed_homes: bool = True) -> folium.Map:
    m = base_map()
    add_subdistricts(m, subdistricts)
    if embed_homes:
        add_carehomes(
            m, homes.only("id", "name", "location", "status", "beds", "residents", "fire_safety_owner"), hazards
        )
    bounds = _bounds(homes, subdistricts)
    if bounds:
        m.fit_bounds(bounds, padding=(20, 20))
    folium.LayerControl(collapsed=False).add_to(m)
    return m


def site_map(home) -> folium.Map:
    if home.location is None:
        m = base_map()
        if home.subdistrict is not None:
            add_subdistricts(m, type(home.subdistrict).objects.filter(pk=home.subdistrict_id))
        return m
    m = base_map(location=(home.location.y, home.location.x), zoom_start=17)
    if home.subdistrict is not None:
        add_subdistricts(m, type(home.subdistrict).objects.filter(pk=home.subdistrict_id))
    if home.site_boundary is not None:
        folium.GeoJson(
            json.loads(home.site_boundary.geojson),
            name="院区范围",
            style_function=lambda _f: {
                "color": "#2e7d32",
                "weight": 2,
                "fillOpacity": 0.1,
                "className": "site-boundary",
            },
        ).add_to(m)
    add_carehomes(m, [home])
    return m


def locate_map(home, subdistricts) -> folium.Map:
    """The map to place a home on: the 街镇 boundaries with names, framed on the home (if placed), else on its 街镇,
    else on what the user may see. locate.js adds the draggable marker."""
    if home.location is not None:
        m = base_map(location=(home.location.y, home.location.x), zoom_start=17)
        add_subdistricts(m, subdistricts)
        return m
    m = base_map()
    add_subdistricts(m, subdistricts)
    frame = subdistricts.filter(pk=home.subdistrict_id) if home.subdistrict_id else subdistricts
    bounds = _bounds(type(home).objects.none(), frame)
    if bounds:
        m.fit_bounds(bounds, padding=(20, 20))
    return m


def with_context(m: folium.Map, subdistricts, homes=None) -> folium.Map:
    """Every map's context: the 街镇 boundaries with their names, framed on the homes shown (when given and placed),
    else on the 街镇."""
    from django.contrib.gis.db.models import Extent

    add_subdistricts(m, subdistricts)
    box = homes.exclude(location=None).aggregate(e=Extent("location"))["e"] if homes is not None else None
    box = box or subdistricts.aggregate(e=Extent("boundary"))["e"]
    if box:
        minx, miny, maxx, maxy = box
        pad = 0.005 if (maxx - minx) < 0.005 and (maxy - miny) < 0.005 else 0  # one home: a street's view around it
        m.fit_bounds([[miny - pad, minx - pad], [maxy + pad, maxx + pad]], padding=(20, 20))
    return m


def _bounds(homes, subdistricts):
    from django.contrib.gis.db.models import Extent

    extent = subdistricts.aggregate(e=Extent("boundary"))["e"] or homes.aggregate(e=Extent("location"))["e"]
    if not extent:
        return None
    minx, miny, maxx, maxy = extent
    return [[miny, minx], [maxy, maxx]]
