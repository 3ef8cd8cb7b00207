"""What a planned route gives the crews: the map, the itinerary per team, and the same itinerary in Excel."""

from dataclasses import dataclass, field

import folium
from django.urls import reverse
from django.utils.html import format_html

from gis_app.carehomes.maps import boundaries_url
from gis_app.hazards.models import Hazard
from gis_app.lib.excel import Column, Sheet
from gis_app.lib.maps import PropertyTooltip, RemoteGeoJson, base_map, layer_name, popup, tooltip

from .models import PlanStop, RoutePlan, Team, TravelMode
from .services import hhmm

# Team colours: none of the reds and oranges the platform uses for overdue, major and problem features.
COLOURS = ["#1f78b4", "#33a02c", "#6a3d9a", "#00838f", "#8c6d31", "#636363"]


@dataclass
class Row:
    stop: PlanStop
    arrival: str
    start: str
    departure: str
    window: str
    contact: str
    phone: str
    hazards: list[str] = field(default_factory=list)


@dataclass
class TeamItinerary:
    team: Team
    colour: str
    rows: list[Row]
    departure: str
    arrival: str
    break_text: str
    travel_minutes: int | None


def window_text(stop: PlanStop) -> str:
    if stop.window_start is None:
        return ""
    return f"{hhmm(stop.window_start, unit='m')}–{hhmm(stop.window_end, unit='m')}"


def itineraries(plan: RoutePlan, stops) -> list[TeamItinerary]:
    stops = list(stops)
    open_hazards: dict[int, list[str]] = {}
    for h in (Hazard.objects.open().filter(care_home__in=[s.care_home_id for s in stops])
              .order_by("-severity", "due_on").only("care_home_id", "description", "severity", "due_on")):  # fmt: skip
        label = (
            f"{'【重大】' if h.severity == 'major' else ''}{h.description[:40]}（期限 {h.due_on:%Y-%m-%d}）"
            if h.due_on
            else h.description[:40]
        )
        open_hazards.setdefault(h.care_home_id, []).append(label)
    out = []
    for i, team in enumerate(plan.teams.all()):
        rows = []
        for s in sorted((s for s in stops if s.team_id == team.pk), key=lambda s: s.sequence or 0):
            home = s.care_home
            rows.append(Row(s, hhmm(s.arrival), hhmm(s.start), hhmm(s.departure), window_text(s),
                            home.fire_safety_manager or home.fire_safety_owner,
                            home.fire_safety_manager_phone or home.fire_safety_owner_phone,
                            open_hazards.get(home.pk, [])))  # fmt: skip
        brk = f"{hhmm(team.break_start)}–{hhmm(team.break_end)}" if team.break_start is not None else ""
        out.append(TeamItinerary(team, COLOURS[i % len(COLOURS)], rows, hhmm(team.departure), hhmm(team.arrival), brk,
                                 round(team.travel_seconds / 60) if team.travel_seconds is not None else None))  # fmt: skip
    return out


def route_map(plan: RoutePlan, teams: list[TeamItinerary], skipped) -> folium.Map:
    m = base_map(height="560px")
    boundaries = RemoteGeoJson(
        boundaries_url(),
        name="街镇边界",
        control=False,
        style={"color": "#90a4ae", "weight": 1, "fill": False},
        back=True,
    )
    PropertyTooltip(["name"]).add_to(boundaries)
    boundaries.add_to(m)
    bounds = []
    for it in teams:
        t = it.team
        group = folium.FeatureGroup(name=layer_name(f"{t.name}（{len(it.rows)} 站）")).add_to(m)
        line = [(t.start.y, t.start.x)] + [(r.stop.care_home.location.y, r.stop.care_home.location.x) for r in it.rows]
        line.append((t.end.y, t.end.x))
        bounds += line
        if it.rows:
            folium.PolyLine(
                _driven(plan, line), color=it.colour, weight=4, opacity=0.8, tooltip=tooltip(t.name)
            ).add_to(group)
        folium.CircleMarker(
            (t.start.y, t.start.x),
            radius=9,
            color="#000",
            weight=2,
            fill=True,
            fill_color=it.colour,
            fill_opacity=1,
            tooltip=tooltip(f"{t.name} 出发：{t.start_name} {it.departure}"),
        ).add_to(group)
        if (t.end.x, t.end.y) != (t.start.x, t.start.y):
            folium.CircleMarker(
                (t.end.y, t.end.x),
                radius=9,
                color="#000",
                weight=2,
                fill=True,
                fill_color="#fff",
                tooltip=tooltip(f"{t.name} 返回：{t.end_name} {it.arrival}"),
            ).add_to(group)
        for r in it.rows:
            home = r.stop.care_home
            html = format_html(
                '<b>{}. <a href="{}" target="_top">{}</a></b><br>{}<br>到达 {} · 检查 {}–{}{}<br>联系人 {} {}',
                r.stop.sequence,
                reverse("carehome-detail", args=[home.pk]),
                home.name,
                home.address,
                r.arrival,
                r.start,
                r.departure,
                format_html("<br>时间窗 {}", r.window) if r.window else "",
                r.contact,
                r.phone,
            )
            icon = folium.DivIcon(
                html=f'<div class="route-stop" style="background:{it.colour}">{r.stop.sequence}</div>',
                icon_size=(24, 24), icon_anchor=(12, 12), class_name="route-stop-icon")  # fmt: skip
            folium.Marker(
                (home.location.y, home.location.x),
                icon=icon,
                popup=popup(html),
                tooltip=tooltip(f"{t.name} 第 {r.stop.sequence} 站：{home.name}（到达 {r.arrival}）"),
            ).add_to(group)
    if skipped:
        group = folium.FeatureGroup(name=layer_name(f"未安排（{len(skipped)}）")).add_to(m)
        for s in skipped:
            loc = s.care_home.location
            bounds.append((loc.y, loc.x))
            folium.CircleMarker(
                (loc.y, loc.x),
                radius=6,
                color="#999",
                fill=True,
                fill_color="#ccc",
                fill_opacity=0.9,
                tooltip=tooltip(f"未安排：{s.care_home.name}（{s.skipped_reason}）"),
            ).add_to(group)
    if bounds:
        m.fit_bounds([(min(b[0] for b in bounds), min(b[1] for b in bounds)),
                      (max(b[0] for b in bounds), max(b[1] for b in bounds))], padding=(20, 20))  # fmt: skip
    folium.LayerControl(collapsed=False).add_to(m)
    return m


def _driven(plan: RoutePlan, line: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """On a road network, the roads driven between consecutive places; otherwise the straight legs."""
    if plan.travel_mode != TravelMode.ROAD:
        return line
    from .travel import road_path

    out = []
    for (lat1, lon1), (lat2, lon2) in zip(line, line[1:], strict=False):
        out += road_path((lon1, lat1), (lon2, lat2)) or [(lat1, lon1), (lat2, lon2)]
    return out


COLUMNS = [
    Column("检查组", 10), Column("顺序", 6, "int"), Column("养老机构", 28), Column("地址", 36), Column("街镇", 12),
    Column("到达", 9), Column("检查开始", 9), Column("离开", 9), Column("时间窗", 14), Column("联系人", 10),
    Column("联系电话", 15), Column("风险优先级", 10, "int"), Column("待查在办隐患", 60),
]  # fmt: skip


def itinerary_sheets(plan: RoutePlan, teams: list[TeamItinerary], skipped) -> list[Sheet]:
    rows = []
    for it in teams:
        t = it.team
        rows.append([t.name, 0, f"出发：{t.start_name}", "", "", "", "", it.departure, "", t.members, "", None, ""])
        for r in it.rows:
            home = r.stop.care_home
            rows.append([t.name, r.stop.sequence, home.name, home.address, home.subdistrict.name if home.subdistrict else "",
                         r.arrival, r.start, r.departure, r.window, r.contact, r.phone, r.stop.priority,
                         "；".join(r.hazards)])  # fmt: skip
        rows.append([t.name, None, f"返回：{t.end_name}", "", "", it.arrival, "", "", "",
                     f"休息 {it.break_text}" if it.break_text else "", "", None,
                     f"行驶约 {it.travel_minutes} 分钟" if it.travel_minutes is not None else ""])  # fmt: skip
    title = f"联合检查行程单：{plan.title}（{plan.date:%Y-%m-%d}）· {plan.travel_note}"
    sheets = [Sheet("行程单", title, COLUMNS, rows)]
    if skipped:
        sheets.append(Sheet("未安排", f"未安排的养老机构：{plan.title}", [Column("养老机构", 28), Column("地址", 36),
                            Column("风险优先级", 10, "int"), Column("原因", 30)],
                            [[s.care_home.name, s.care_home.address, s.priority, s.skipped_reason] for s in skipped]))  # fmt: skip
    return sheets
