"""The stored cells (gis_app/risk/heat_cells.py) give exactly the heat layer's bins and the hexagons that counting the
points gives, at every stored zoom and hexagon grid, with every filter and box, after every kind of write, a home's
move and compaction; a home moved while a hazard is being placed at it takes the hazard along; a point's hexagon is
the one ST_HexagonGrid draws around it."""

import math
import random
import threading
from collections import Counter
from datetime import date, timedelta

import pytest
from django.contrib.gis.geos import Point
from django.db import connection, connections, transaction

from gis_app.carehomes.models import CareHome
from gis_app.hazards.models import Category, Hazard, Severity, Status
from gis_app.risk import heat_cells, queries

TODAY = date(2026, 6, 1)
CLOSED = {"closed", "closed_unfixed"}
FILTERS = [{}, {"severity": "major"}, {"category": "fire_lane"}, {"open": "1"}, {"open": "1", "severity": "general"}]
BOXES = [None, "100,20,125,45", "117.1,38.7,118.2,39.4", "-10,-10,10,10"]


def reference(params, zoom: int) -> Counter:
    """Bins counted in Python from each hazard's point (its own, or its home's)."""
    size = 45 / 2**zoom
    box = [float(v) for v in params["bbox"].split(",")] if params.get("bbox") else None
    bins = [math.floor(v / size) for v in box] if box else None
    counts = Counter()
    for h in Hazard.objects.select_related("care_home"):
        p = h.location or h.care_home.location
        if p is None or (params.get("severity") and h.severity != params["severity"]):
            continue
        if (params.get("category") and h.category != params["category"]) or (
            params.get("open") == "1" and h.status in CLOSED
        ):
            continue
        bx, by = math.floor(p.x / size), math.floor(p.y / size)
        if bins and not (bins[0] <= bx <= bins[2] and bins[1] <= by <= bins[3]):
            continue
        counts[(round((by + 0.5) * size, 6), round((bx + 0.5) * size, 6))] += 1
    return counts


def as_counter(points) -> Counter:
    return Counter({(round(lat, 6), round(lon, 6)): int(n) for lat, lon, n in points})


def mercator(lon: float, lat: float) -> tuple[float, float]:
    r, lat = heat_cells.MERCATOR_R, max(-heat_cells.MAX_LAT, min(heat_cells.MAX_LAT, lat))
    return r * math.radians(lon), r * math.log(math.tan(math.pi / 4 + math.radians(lat) / 2))


def hexagon_of(x: float, y: float, edge: float) -> tuple[int, int]:
    """The nearest hexagon centre of the two columns around the point (written apart from the SQL)."""
    w, h = 1.5 * edge, edge * math.sqrt(3)
    best = None
    for i in (math.floor(x / w), math.floor(x / w) + 1):
        off = 0.5 if i % 2 else 0.0
        j = math.ceil(y / h - off - 0.5)
        d = (x - w * i) ** 2 + (y - h * (j + off)) ** 2
        if best is None or d < best[0]:
            best = (d, i, j)
    return best[1], best[2]


def reference_hexes(params, grid: int) -> Counter:
    """Hexagons counted in Python; those whose bounding box touches the view are kept whole."""
    edge = heat_cells.HEX_EDGES[grid]
    minx, miny, maxx, maxy = (float(v) for v in params["bbox"].split(","))
    (x0, y0), (x1, y1) = mercator(minx, miny), mercator(maxx, maxy)
    w, h = 1.5 * edge, edge * math.sqrt(3)
    counts = Counter()
    for z in Hazard.objects.select_related("care_home"):
        p = z.location or z.care_home.location
        if p is None or (params.get("severity") and z.severity != params["severity"]):
            continue
        if (params.get("category") and z.category != params["category"]) or (
            params.get("open") == "1" and z.status in CLOSED
        ):
            continue
        i, j = hexagon_of(*mercator(p.x, p.y), edge)
        cx, cy = w * i, h * (j + (0.5 if i % 2 else 0.0))
        if cx + edge >= x0 and cx - edge <= x1 and cy + h / 2 >= y0 and cy - h / 2 <= y1:
            counts[(i, j)] += 1
    return counts


def assert_exact(bureau):
    for grid in heat_cells.STORED_HEX_GRIDS:
        for params in FILTERS:
            for box in BOXES[1:]:
                p = {**params, "bbox": box}
                stored = Counter({(i, j): n for i, j, n in queries._stored_hexes(bureau, p, grid)})
                counted = Counter({(i, j): n for i, j, n in queries._counted_hexes(bureau, p, grid)})
                assert stored == counted == reference_hexes(p, grid), (grid, p)
    for zoom in range(heat_cells.STORED_ZOOM + 1):
        for params in FILTERS:
            for box in BOXES:
                p = {**params, "bbox": box} if box else params
                size = 45 / 2**zoom
                bins = tuple(math.floor(float(v) / size) for v in box.split(",")) if box else None
                stored = as_counter(queries._stored_bins(bureau, p, zoom, size, bins))
                counted = as_counter(queries._counted_bins(bureau, p, size, bins))
                want = reference(p, zoom)
                assert stored == counted == want, (zoom, p)


def spread_homes(world, make_home, rng, n=6) -> list[CareHome]:
    homes = [world["home_a"], world["home_b"]]
    for _ in range(n):  # across the country, some on cell edges
        x = rng.choice([rng.uniform(75, 135), 45 / 128 * rng.randrange(220, 380)])
        y = rng.choice([rng.uniform(18, 52), 45 / 128 * rng.randrange(55, 145)])
        homes.append(make_home(world["tanggu"], location=Point(x, y, srid=4326)))
    return homes


def random_hazards(homes, n, rng) -> list[Hazard]:
    made = []
    for _ in range(n):
        home = rng.choice(homes)
        own = None
        if rng.random() < 0.5:  # half with their own point near (or far from) the home
            own = Point(home.location.x + rng.uniform(-2, 2), home.location.y + rng.uniform(-2, 2), srid=4326)
        made.append(
            Hazard(
                care_home=home,
                description="热力测试",
                found_on=TODAY,
                due_on=TODAY + timedelta(days=30),
                location=own,
                severity=rng.choice(Severity.values),
                category=rng.choice(Category.values),
                status=rng.choice(Status.values),
                criterion_id=None,
            )
        )
    for h in made:
        if h.severity == Severity.MAJOR:
            h.severity = Severity.GENERAL  # a major hazard needs its criterion; the severity filter is tested below
    made = Hazard.objects.bulk_create(made)
    major = made[: n // 4]
    from gis_app.inspections.models import Criterion

    criterion = Criterion.objects.first()
    Hazard.objects.filter(pk__in=[h.pk for h in major]).update(severity=Severity.MAJOR, criterion=criterion)
    return made


def test_stored_cells_equal_counting_the_points_after_every_kind_of_write(world, make_home):
    rng = random.Random(7)
    bureau = world["users"]["bureau"]
    homes = spread_homes(world, make_home, rng)
    hazards = random_hazards(homes, 120, rng)
    assert_exact(bureau)
    for h in rng.sample(hazards, 25):  # status, category, own point set or cleared, one by one
        h.status = rng.choice(Status.values)
        h.category = rng.choice(Category.values)
        h.location = None if h.location else Point(rng.uniform(80, 130), rng.uniform(20, 50), srid=4326)
        h.save(update_fields=["status", "category", "location"])
    Hazard.objects.filter(status=Status.CLOSED).update(status=Status.REOPENED)
    assert_exact(bureau)
    moved = homes[2]
    CareHome.objects.filter(pk=moved.pk).update(location=Point(101.5, 25.5, srid=4326))  # its placed hazards move
    CareHome.objects.filter(pk=homes[3].pk).update(name="只改了名称")
    with connection.cursor() as cur:
        cur.execute("DELETE FROM hazards_hazard WHERE id IN (SELECT id FROM hazards_hazard ORDER BY id LIMIT 10)")
        cur.execute("UPDATE hazards_hazard SET care_home_id = %s WHERE id %% 7 = 0", [homes[4].pk])
    assert_exact(bureau)
    rows = heat_cells.compact()
    assert rows == heat_cells.compact()
    assert_exact(bureau)
    heat_cells.rebuild()
    assert_exact(bureau)


def test_the_bureau_reads_stored_cells_and_others_count_points(world, make_home, client):
    from django.test.utils import CaptureQueriesContext

    spread = spread_homes(world, make_home, random.Random(2), n=2)
    random_hazards(spread, 30, random.Random(2))
    client.force_login(world["users"]["bureau"])
    with CaptureQueriesContext(connection) as low:
        country = client.get("/risk/heatmap/data.json?zoom=4&bbox=70,15,140,55").json()
    assert "risk_hazardcell" in " ".join(q["sql"] for q in low.captured_queries)
    assert country["total"] == sum(reference({"bbox": "70,15,140,55"}, 4).values())
    with CaptureQueriesContext(connection) as street_zoom:
        client.get("/risk/heatmap/data.json?zoom=12&bbox=117.6,38.9,117.8,39.1")
    assert "risk_hazardcell" not in " ".join(q["sql"] for q in street_zoom.captured_queries)
    assert client.get("/risk/heatmap/data.json?zoom=3&category=nope").status_code == 400
    # as the page asks: every form field sent, empty ones included, at a zoom that counts the points
    asked = client.get("/risk/heatmap/data.json?severity=&category=&open=1&bbox=70,15,140,55&zoom=9")
    assert asked.status_code == 200
    assert asked.json()["total"] == sum(reference({"open": "1", "bbox": "70,15,140,55"}, 9).values())


@pytest.mark.django_db(transaction=True)
def test_a_home_moved_while_a_hazard_is_placed_at_it_takes_the_hazard_along(world):
    """The hazard's trigger share-locks its home: the move waits for the hazard's commit, and then moves it too
    (without the lock the move missed the uncommitted hazard and the cell counts kept it at the old place)."""
    home = world["home_a"]
    placed, release, moved = threading.Event(), threading.Event(), threading.Event()

    def place():
        try:
            with transaction.atomic():
                Hazard.objects.create(
                    care_home=home, description="并发", found_on=TODAY, due_on=TODAY + timedelta(days=5)
                )
                placed.set()
                release.wait(10)
        finally:
            connections.close_all()

    def move():
        try:
            CareHome.objects.filter(pk=home.pk).update(location=Point(121.47, 31.23, srid=4326))
            moved.set()
        finally:
            connections.close_all()

    placing = threading.Thread(target=place)
    placing.start()
    assert placed.wait(10)
    moving = threading.Thread(target=move)
    moving.start()
    moving.join(1.0)
    assert not moved.is_set()  # the move waits for the hazard being placed at its home
    release.set()
    placing.join(10)
    moving.join(10)
    assert moved.is_set()
    assert_exact(world["users"]["bureau"])


def test_the_hexagon_grid_is_refused_for_a_view_with_too_many_hazards(world, make_home, client, monkeypatch):
    spread = spread_homes(world, make_home, random.Random(5), n=3)
    random_hazards(spread, 40, random.Random(5))
    client.force_login(world["users"]["bureau"])
    monkeypatch.setattr(queries, "HEX_MAX_HAZARDS", 10)
    country = client.get("/risk/heatmap/hex.geojson?bbox=70,15,140,55")
    assert country.status_code == 400 and "hazards in view" in country.json()["detail"]
    home = world["home_a"].location
    near = f"{home.x - 0.01},{home.y - 0.01},{home.x + 0.01},{home.y + 0.01}"
    assert client.get(f"/risk/heatmap/hex.geojson?bbox={near}").status_code == 200
    assert "required" in client.get("/risk/heatmap/hex.geojson").json()["detail"]


def test_a_points_hexagon_is_the_one_st_hexagongrid_draws_around_it(db):
    """The arithmetic of heat_cells.hex_cell_sql against PostGIS: for points over the whole world (both hemispheres),
    the cell of lowest (i, j) among those of ST_HexagonGrid covering the point, at every grid's edge."""
    rng = random.Random(11)
    lons = [rng.uniform(-179, 179) for _ in range(1500)] + [rng.uniform(117, 118.2) for _ in range(500)]
    lats = [rng.uniform(-80, 80) for _ in range(1500)] + [rng.uniform(38.5, 39.5) for _ in range(500)]
    x, y = heat_cells.mercator_sql("lon", "lat")
    for edge in (*heat_cells.HEX_EDGES, 37.5):
        with connection.cursor() as cur:
            cur.execute(
                f"""
                SELECT c.i, c.j, g.i, g.j
                FROM unnest(%s::float8[], %s::float8[]) p (lon, lat), (SELECT %s::float8 AS edge) e,
                LATERAL (SELECT {x} AS x, {y} AS y) m,
                LATERAL ({heat_cells.hex_cell_sql("m.x", "m.y", "e.edge")}) c,
                LATERAL (SELECT h.i, h.j FROM ST_HexagonGrid(%s, ST_Transform(ST_SetSRID(ST_MakePoint(lon, lat), 4326),
                         3857)) h WHERE ST_Covers(h.geom, ST_Transform(ST_SetSRID(ST_MakePoint(lon, lat), 4326), 3857))
                         ORDER BY h.i, h.j LIMIT 1) g
                """,
                [lons, lats, edge, edge],
            )
            rows = cur.fetchall()
        assert len(rows) == len(lons)
        wrong = [r for r in rows if r[:2] != r[2:]]
        assert not wrong, (edge, wrong[:5])
        for (lon, lat), (i, j, *_) in zip(zip(lons, lats, strict=True), rows, strict=True):
            assert hexagon_of(*mercator(lon, lat), edge) == (i, j)


def test_the_hexagon_grid_follows_the_zoom_and_the_bureau_reads_stored_cells(world, make_home, client):
    from django.test.utils import CaptureQueriesContext

    spread = spread_homes(world, make_home, random.Random(3), n=3)
    random_hazards(spread, 40, random.Random(3))
    client.force_login(world["users"]["bureau"])
    zooms = {18: 0, 12: 0, 11: 0, 10: 1, 9: 1, 8: 2, 7: 2, 6: 3, 5: 3, 4: 4, 0: 4}
    assert {z: heat_cells.hex_grid_for_zoom(z) for z in zooms} == zooms
    with CaptureQueriesContext(connection) as country:
        cells = client.get("/risk/heatmap/hex.geojson?zoom=4&bbox=70,15,140,55").json()
    assert "risk_hazardcell" in " ".join(q["sql"] for q in country.captured_queries)
    assert cells["edge_m"] == 128000
    want = reference_hexes({"bbox": "70,15,140,55"}, 4)
    assert sum(f["properties"]["count"] for f in cells["features"]) == sum(want.values())
    assert len(cells["features"]) == len(want)
    assert client.get("/risk/heatmap/hex.geojson?zoom=12&bbox=117.6,38.9,117.8,39.1").json()["edge_m"] == 500
    zipped = client.get("/risk/heatmap/hex.geojson?zoom=4&bbox=70,15,140,55", HTTP_ACCEPT_ENCODING="gzip")
    assert zipped["Content-Encoding"] == "gzip" and "Accept-Encoding" in zipped["Vary"]
    assert client.get("/risk/heatmap/hex.geojson?zoom=x&bbox=117.6,38.9,117.8,39.1").status_code == 400
    for box in ("nan,1,2,3", "1,inf,2,3", "1,2,3"):  # a precise 400, not a server error
        for url in ("/risk/heatmap/hex.geojson?zoom=4", "/risk/heatmap/data.json?zoom=4"):
            refused = client.get(f"{url}&bbox={box}")
            assert refused.status_code == 400 and refused.json()["detail"].startswith("bbox:"), (url, box)
    world_view = client.get("/risk/heatmap/hex.geojson?zoom=1&bbox=-300,-89,300,89")  # Leaflet's box past ±180
    assert world_view.status_code == 200 and world_view.json()["edge_m"] == 128000
    month = client.get("/risk/heatmap/hex.geojson?zoom=8&month=2026-06&bbox=100,20,125,45")
    assert month.status_code == 200 and month.json()["edge_m"] == 8000  # a month is counted from the points
    assert sum(f["properties"]["count"] for f in month.json()["features"]) == sum(
        reference_hexes({"bbox": "100,20,125,45"}, 2).values()
    )  # every hazard here was found in June 2026
