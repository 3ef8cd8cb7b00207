"""Risk scores by hand on small cases; aggregates against an independent computation (shapely); the API's scope."""

from datetime import date

import pytest
from shapely import wkb as shapely_wkb
from shapely.geometry import Point as ShapelyPoint

from gis_app.carehomes.models import CareHome, Subdistrict
from gis_app.hazards import services
from gis_app.inspections.models import Criterion
from gis_app.risk.models import RiskScore, SubdistrictRisk
from gis_app.risk.scoring import explain, load_weights, recompute_all, recompute_scores, total

ITEMS = [
    {"code": "open_general", "label": "一般", "weight": 2, "cap": 40},
    {"code": "overdue_days", "label": "逾期", "weight": 0.2, "cap": 4},
    {"code": "beds", "label": "床位", "weight": 3, "cap": 15},
]


def test_score_by_hand():
    components = explain({"open_general": 3, "overdue_days": 50, "beds": 1.2}, ITEMS)
    assert [c["points"] for c in components] == [6, 4, 3.6]  # 3×2; 50×0.2=10 capped at 4; 1.2×3
    assert total(components) == 13.6
    assert components[1]["value"] == 50 and components[1]["cap"] == 4


@pytest.fixture
def scored(world, clock_at):
    clock_at(date(2026, 11, 30))
    load_weights()
    bureau = world["users"]["bureau"]
    home = world["home_a"]
    home.beds, home.residents, home.residents_full_care = 200, 100, 30
    home.save()
    services.report_hazard(
        care_home=home, description="a", by=bureau, found_on=date(2026, 10, 1), due_on=date(2026, 11, 20)
    )
    services.report_hazard(care_home=home, description="b", by=bureau, found_on=date(2026, 11, 25))
    major = services.report_hazard(care_home=home, description="c", by=bureau, severity="major",
                                   criterion=Criterion.objects.get(code="MCA2023-2-5"))  # fmt: skip
    services.list_for_supervision(major, by=bureau, department="民政局", deadline=date(2026, 12, 30))
    recompute_all(date(2026, 11, 30))
    return home


def test_a_homes_score_explained_item_by_item(scored, settings):
    score = RiskScore.objects.get(care_home=scored)
    items = {c["code"]: c for c in score.components}
    assert items["open_general"]["value"] == 2 and items["open_general"]["points"] == 4
    assert items["open_major"]["points"] == 15
    assert items["overdue_days"]["value"] == 10 and items["overdue_days"]["points"] == 2  # 10 days × 0.2
    assert items["listed_major"]["points"] == 10
    assert items["beds"]["value"] == 2 and items["beds"]["points"] == 6
    assert items["full_care_share"]["value"] == 3 and items["full_care_share"]["points"] == 4.5
    # no self-checks in the last 30 days: every finished period of every scheduled frequency is missed; points cap at 20
    assert items["missed_checks"]["value"] > 40 and items["missed_checks"]["points"] == 20
    assert score.score == pytest.approx(sum(c["points"] for c in score.components))


def test_missed_checks_in_the_score_agree_with_the_schedule_page(scored):
    from gis_app.inspections.schedule import schedule_status

    statuses = schedule_status(CareHome.objects.filter(pk=scored.pk), date(2026, 11, 1), date(2026, 11, 30))[scored.pk]
    items = {c["code"]: c for c in RiskScore.objects.get(care_home=scored).components}
    assert items["missed_checks"]["value"] == sum(s.missed for s in statuses)


def test_the_score_follows_the_ledger(scored, world, photo):
    before = RiskScore.objects.get(care_home=scored).score
    for h in scored.hazards.filter(severity="general"):
        services.fix_on_spot(h, by=world["users"]["bureau"], note="已整改", evidence=[photo()])
    recompute_scores(date(2026, 11, 30), [scored.pk])
    assert RiskScore.objects.get(care_home=scored).score == pytest.approx(before - 4 - 2)


def test_changes_request_one_recompute_job_per_minute(world, django_capture_on_commit_callbacks):
    from gis_app.jobs.models import Job

    with django_capture_on_commit_callbacks(execute=True):
        services.report_hazard(care_home=world["home_a"], description="x", by=world["users"]["bureau"])
        services.report_hazard(care_home=world["home_a"], description="y", by=world["users"]["bureau"])
    assert Job.objects.filter(kind="risk.recompute").count() == 1


def test_aggregates_match_an_independent_shapely_computation(scored, world):
    # Independent: place each hazard at its home, find the 街镇 with shapely, count in Python.
    polygons = {s.pk: shapely_wkb.loads(bytes(s.boundary.wkb)) for s in Subdistrict.objects.all()}
    counts: dict = {}
    today = date(2026, 11, 30)
    for h in scored.hazards.all().select_related("care_home"):
        p = ShapelyPoint(h.care_home.location.x, h.care_home.location.y)
        sub = min(pk for pk, poly in polygons.items() if poly.covers(p))
        c = counts.setdefault(sub, {"open": 0, "overdue": 0, "found": 0})
        c["found"] += 1
        c["open"] += h.is_open
        c["overdue"] += h.is_open and h.due_on < today
    homes_per_sub: dict = {}
    for home in CareHome.objects.all():
        p = ShapelyPoint(home.location.x, home.location.y)
        covering = [pk for pk, poly in polygons.items() if poly.covers(p)]
        if covering:
            homes_per_sub[min(covering)] = homes_per_sub.get(min(covering), 0) + 1
    for row in SubdistrictRisk.objects.exclude(subdistrict=None):
        c = counts.get(row.subdistrict_id, {"open": 0, "overdue": 0, "found": 0})
        assert (row.open_general + row.open_major, row.overdue, row.found_total) == (
            c["open"],
            c["overdue"],
            c["found"],
        )
        assert row.homes == homes_per_sub.get(row.subdistrict_id, 0)
    district = SubdistrictRisk.objects.get(subdistrict=None)
    assert district.homes == CareHome.objects.count() and district.found_total == 3
    assert SubdistrictRisk.objects.exclude(subdistrict=None).count() == Subdistrict.objects.count()
    tanggu = SubdistrictRisk.objects.get(subdistrict=world["tanggu"])
    assert tanggu.zero_out_rate == 0 and tanggu.max_risk == RiskScore.objects.get(care_home=scored).score


def test_the_api_is_scoped(client, scored, world):
    client.force_login(world["users"]["bureau"])
    data = client.get("/api/risk/subdistricts/").json()
    assert len(data["subdistricts"]) == 21 and data["district"]["found_total"] == 3
    client.force_login(world["users"]["subdistrict"])
    data = client.get("/api/risk/subdistricts/").json()
    assert [r["code"] for r in data["subdistricts"]] == ["120116001"] and data["district"] is None
    client.logout()
    assert client.get("/api/risk/subdistricts/").status_code == 401


def test_pages_and_excel(client, scored, world):
    from io import BytesIO

    from openpyxl import load_workbook

    client.force_login(world["users"]["bureau"])
    for url in (
        "/risk/",
        "/risk/map/?metric=overdue",
        "/risk/heatmap/",
        "/risk/method/",
        "/risk/subdistricts/120116001/",
    ):
        assert client.get(url).status_code == 200, url
    page = client.get("/risk/").content.decode()
    assert scored.name in page and "排查整治" in page
    # the current year by default; the ended 2020–2022 campaign folded away; every key number links to its list
    from gis_app.lib import clock

    year = clock.today().year
    assert f"{year} 年每月发现与销号" in page and "往期专项行动" in page
    assert 'href="/hazards/?overdue=on"' in page and 'href="/hazards/?status=open&amp;severity=major"' in page
    found_this_year = scored.hazards.filter(found_on__year=year).count()
    assert f"{year} 年发现<b>{found_this_year}</b>" in page
    earlier = client.get("/risk/", {"year": year - 1}).content.decode()
    assert f"{year - 1} 年每月发现与销号" in earlier
    assert client.get("/risk/", {"year": "1900"}).status_code == 200  # out of range: the current year
    wb = load_workbook(BytesIO(client.get("/risk/map/?format=xlsx").content))
    ws = wb.active
    assert ws["A3"].value == "塘沽街道" and ws.max_row == 2 + 21 + 1
    wb = load_workbook(BytesIO(client.get("/risk/?format=xlsx").content))
    assert wb["风险前十"]["A3"].value == scored.name
    heat = client.get("/risk/heatmap/data.json?zoom=10").json()
    assert heat["total"] == 3 and len(heat["points"]) == 1
    assert client.get("/risk/heatmap/data.json?severity=major").json()["total"] == 1
    assert client.get("/risk/heatmap/data.json?month=2026-10").json()["total"] == 1
    assert client.get("/risk/heatmap/data.json?severity=bad").status_code == 400
    hexes = client.get("/risk/heatmap/hex.geojson?bbox=117.3,38.6,118.1,39.4").json()
    assert sum(f["properties"]["count"] for f in hexes["features"]) == 3
    assert "required" in client.get("/risk/heatmap/hex.geojson").json()["detail"]
    client.force_login(world["users"]["other_home"])
    assert client.get("/risk/heatmap/data.json").json()["total"] == 0
    assert client.get("/risk/subdistricts/120116001/").status_code == 404


def test_campaign_phase_progress(scored):
    from gis_app.risk.dashboard import campaign_status, load_campaigns

    load_campaigns()
    phases = campaign_status(CareHome.objects.filter(pk=scored.pk), date(2026, 11, 30))
    assert [p["phase"].name for p in phases] == ["动员部署", "排查整治", "集中攻坚", "巩固提升"]
    assert phases[2]["percent"] == 0.0 and phases[2]["text"] == "0/1 条重大隐患已销号"
    assert phases[0]["state"] == "已结束"


def test_the_home_page_explains_the_score(client, scored, world):
    client.force_login(world["users"]["care_home"])
    page = client.get(f"/carehomes/{scored.pk}/").content.decode()
    assert 'id="risk-explained"' in page and "挂牌督办中的重大隐患" in page and "在办重大隐患" in page


def test_a_home_and_a_provider_see_figures_over_their_own_homes_only(client, world, make_home, tanggu):
    """The stored 街镇 row covers every home of the 街镇; a home or a third party may not see the others' figures."""
    from gis_app.hazards.services import report_hazard
    from gis_app.risk.scoring import recompute_all

    neighbour = make_home(tanggu)  # same 街镇 as home_a, outside the home's and the provider's scope
    bureau = world["users"]["bureau"]
    report_hazard(care_home=neighbour, by=bureau, description="邻居的隐患")
    report_hazard(care_home=neighbour, by=bureau, description="邻居的第二条隐患")
    report_hazard(care_home=world["home_a"], by=bureau, description="自己的隐患")
    recompute_all()
    for role in ("care_home", "third_party"):
        client.force_login(world["users"][role])
        data = client.get("/api/risk/subdistricts/").json()
        assert data["district"] is None
        (row,) = data["subdistricts"]
        assert row["code"] == tanggu.code and row["homes"] == 1 and row["open_general"] == 1, (role, row)
        page = client.get(f"/risk/subdistricts/{tanggu.code}/").content.decode()
        assert "养老机构 1 家" in page and "在办隐患 1 条" in page
    client.force_login(world["users"]["subdistrict"])
    (row,) = client.get("/api/risk/subdistricts/").json()["subdistricts"]
    assert row["homes"] >= 2 and row["open_general"] >= 3  # the 街镇 office sees its whole 街镇


def test_hexagon_cells_agree_with_a_grid_joined_point_by_point(world):
    """The one-pass hexagon count (each point finds its cell) against the direct computation: the grid over the
    points' extent, each point in the covering cell of lowest (i, j)."""
    import json
    import random

    from django.contrib.gis.geos import Point
    from django.db import connection
    from django.test import RequestFactory

    from gis_app.hazards.services import report_hazard
    from gis_app.risk.queries import hex_cells, located_hazards

    rng = random.Random(7)
    home, bureau = world["home_a"], world["users"]["bureau"]
    for n in range(120):
        where = Point(home.location.x + rng.uniform(-0.03, 0.03), home.location.y + rng.uniform(-0.03, 0.03), srid=4326)
        report_hazard(care_home=home, description=f"隐患{n}", by=bureau, location=where)
    x, y = home.location.x, home.location.y
    params = RequestFactory().get("/", {"bbox": f"{x - 0.1},{y - 0.1},{x + 0.1},{y + 0.1}"}).GET  # holds every point
    fast = {
        tuple(f["geometry"]["coordinates"][0][0]): f["properties"]["count"]
        for f in json.loads(hex_cells(bureau, params, grid=0))["features"]
    }
    located, args = located_hazards(bureau, params)
    with connection.cursor() as cur:
        cur.execute(
            f"""
            WITH pts AS (SELECT row_number() OVER () AS k, ST_Transform(g, 3857) AS g FROM ({located}) l),
            cells AS (SELECT h.* FROM ST_HexagonGrid(500, (SELECT ST_SetSRID(ST_Extent(g)::geometry, 3857) FROM pts)) h),
            owner AS (SELECT DISTINCT ON (p.k) c.geom FROM pts p JOIN cells c ON ST_Covers(c.geom, p.g)
                      ORDER BY p.k, c.i, c.j)
            SELECT ST_AsGeoJSON(ST_Transform(geom, 4326), 6), count(*) FROM owner GROUP BY geom
            """,
            args,
        )
        direct = {tuple(json.loads(g)["coordinates"][0][0]): n for g, n in cur.fetchall()}
    assert sum(direct.values()) == 120 and len(direct) > 20
    assert fast == direct


@pytest.mark.parametrize("year", [2026, 2025])
def test_a_provinces_dashboard_reads_the_stored_district_figures_which_equal_the_direct_count(
    client, scored, world, monkeypatch, year
):
    """Above STORED_ABOVE homes the bureau's 风险看板 comes from the district row risk.recompute stores; on the same data
    it shows exactly what the direct count shows, and says when it was counted."""
    from gis_app.risk import dashboard

    bureau = world["users"]["bureau"]
    home_b = world["home_b"]
    services.report_hazard(
        care_home=home_b, description="电动自行车室内充电", by=bureau, category="ebike", found_on=date(2025, 3, 4)
    )
    recompute_all(date(2026, 11, 30))
    client.force_login(bureau)
    keys = ("numbers", "year_numbers", "monthly", "categories", "mean")
    direct = client.get(f"/risk/?year={year}")
    assert direct.context["stored_at"] is None
    monkeypatch.setattr(dashboard, "STORED_ABOVE", 0)
    stored = client.get(f"/risk/?year={year}")
    assert stored.context["stored_at"] is not None and "统计于" in stored.content.decode()
    for key in keys:
        if key == "mean":  # stored rounded to hundredths
            assert stored.context[key] == pytest.approx(direct.context[key], abs=0.01)
        else:
            assert stored.context[key] == direct.context[key], key
    strip = lambda phases: [(p["phase"].pk, p["percent"], p["text"], p["state"]) for p in phases]  # noqa: E731
    assert strip(stored.context["phases"]) == strip(direct.context["phases"])
    assert sum(m["found"] for m in stored.context["monthly"]) >= 1
    # A 街镇 office never reads the district row: its own homes, counted directly.
    client.force_login(world["users"]["subdistrict"])
    assert client.get("/risk/").context["stored_at"] is None
