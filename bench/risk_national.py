"""Risk at national scale: 40,000 homes, 1,000,000 hazards, 3,000 街镇-sized polygons.

Measured: a full recomputation of every score and aggregate; the per-街镇 table served by the API (p95); the same
per-polygon aggregation as a spatial join in PostGIS and in geopandas (the baseline the issue names); the heatmap
page's first load (bytes) and time to drawn in headless Chromium."""

import json
import os
import random
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

HOMES, HAZARDS, POLYGONS = 40_000, 1_000_000, 3_000
BOX = (100.0, 23.0, 122.0, 41.0)


def generate() -> None:
    import shapely
    from django.db import connection
    from shapely.geometry import MultiPoint, MultiPolygon, box

    from gis_app.carehomes.importers.subdistricts import reassign_care_homes
    from gis_app.inspections.catalogue import load_catalogue
    from gis_app.risk.scoring import load_weights

    load_catalogue()
    load_weights()
    rng = random.Random(5)
    seeds = MultiPoint([(rng.uniform(BOX[0], BOX[2]), rng.uniform(BOX[1], BOX[3])) for _ in range(POLYGONS)])
    cells = shapely.voronoi_polygons(seeds, extend_to=box(*BOX))
    frame = box(*BOX)
    rows = []
    for i, cell in enumerate(cells.geoms):
        part = cell.intersection(frame)
        geom = part if part.geom_type == "MultiPolygon" else MultiPolygon([part])
        rows.append((f"9{i:08d}", f"街镇{i}", "street", geom.wkb_hex))
    with connection.cursor() as cur:
        cur.executemany(
            "INSERT INTO carehomes_subdistrict (code, name, kind, boundary, boundary_is_approximate, boundary_source, updated_at)"
            " VALUES (%s, %s, %s, ST_SetSRID(%s::geometry, 4326), true, 'bench', now())",
            rows,
        )
        cur.execute(
            """
            INSERT INTO carehomes_carehome (name, credit_code, address, location, location_source, beds, residents,
                residents_full_care, ownership, operator, legal_representative, fire_safety_owner, fire_safety_owner_phone,
                fire_safety_manager, fire_safety_manager_phone, status, is_demo, created_at, updated_at, location_status,
                geocode_level)
            SELECT 'bench ' || i, lpad(i::text, 18, '0'), 'x',
                   ST_SetSRID(ST_MakePoint(%s + random() * %s, %s + random() * %s), 4326), 'wgs84',
                   (20 + random() * 280)::int, 40, 10, 'private', '', '', '', '', '', '', 'operating', false, now(), now(),
                   'confirmed', ''
            FROM generate_series(1, %s) i
            """,
            [BOX[0], BOX[2] - BOX[0], BOX[1], BOX[3] - BOX[1], HOMES],
        )
    t = time.perf_counter()
    reassign_care_homes()
    assign_s = time.perf_counter() - t
    with connection.cursor() as cur:
        cur.execute("SELECT id FROM inspections_criterion WHERE code = 'MCA2023-2-5'")
        criterion = cur.fetchone()[0]
        cur.execute(
            """
            INSERT INTO hazards_hazard (care_home_id, category, description, severity, criterion_id, found_on, due_on, status,
                responsible_person, responsible_phone, plan_measures, plan_safeguards, rectification_note, created_at, updated_at,
                closed_on, delay_reason, delay_reason_accepted)
            SELECT h.id, (ARRAY['electrical','ebike','fire_lane','exits','equipment','other'])[1 + (random() * 5)::int],
                   'x', CASE WHEN m THEN 'major' ELSE 'general' END, CASE WHEN m THEN %s END, f, f + 30, s,
                   '', '', '', '', '', now(), now(), CASE WHEN s = 'closed' THEN f + 20 END, '', false
            FROM (SELECT 1 + (random() * (%s - 1))::int AS k, random() < 0.05 AS m,
                         current_date - (random() * 400)::int AS f,
                         (ARRAY['reported','assigned','rectifying','submitted','closed','closed','closed'])[1 + (random() * 6)::int] AS s
                  FROM generate_series(1, %s)) g
            JOIN (SELECT id, row_number() OVER (ORDER BY id) AS k FROM carehomes_carehome) h ON h.k = g.k
            """,
            [criterion, HOMES, HAZARDS],
        )
        # Settle the tables now, or autovacuum competes with the measurements for the 2 cores.
        cur.execute("VACUUM ANALYZE hazards_hazard")
        cur.execute("VACUUM ANALYZE carehomes_carehome")
        cur.execute("VACUUM ANALYZE carehomes_subdistrict")
    return assign_s


def timed(fn, repeat=3):
    samples = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t)
    return statistics.median(samples)


def spatial_join_postgis() -> dict:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(
            """SELECT s.id, count(*) FROM hazards_hazard z JOIN carehomes_carehome h ON h.id = z.care_home_id
               JOIN carehomes_subdistrict s ON ST_Covers(s.boundary, h.location) GROUP BY s.id"""
        )
        return dict(cur.fetchall())


def geopandas_join() -> tuple[float, float, dict]:
    import geopandas as gpd
    import numpy as np
    from django.db import connection
    from shapely import from_wkb

    t = time.perf_counter()
    with connection.cursor() as cur:
        cur.execute(
            "SELECT ST_X(h.location), ST_Y(h.location) FROM hazards_hazard z JOIN carehomes_carehome h ON h.id = z.care_home_id"
        )
        xy = np.array(cur.fetchall())
        cur.execute("SELECT id, ST_AsBinary(boundary) FROM carehomes_subdistrict")
        ids, geoms = zip(*[(i, from_wkb(bytes(g))) for i, g in cur.fetchall()], strict=True)
    points = gpd.GeoDataFrame(geometry=gpd.points_from_xy(xy[:, 0], xy[:, 1]), crs=4326)
    polys = gpd.GeoDataFrame({"id": ids}, geometry=list(geoms), crs=4326)
    load_s = time.perf_counter() - t
    t = time.perf_counter()
    joined = gpd.sjoin(points, polys, predicate="within")
    counts = joined.groupby("id").size().to_dict()
    return load_s, time.perf_counter() - t, counts


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def heatmap_page(db_name: str) -> tuple[int, float]:
    """Serve the bench database with runserver, open the heatmap page in Chromium: bytes transferred and time to drawn."""
    from django.contrib.auth import get_user_model

    from gis_app.carehomes.models import Profile, Role

    user = get_user_model().objects.create_user("benchheat", password="bench-pass-123")
    Profile.objects.create(user=user, role=Role.BUREAU)
    port = free_port()
    env = {**os.environ}
    url = env["DATABASE_URL"].rsplit("/", 1)[0] + "/" + db_name
    env["DATABASE_URL"] = url
    root = Path(__file__).resolve().parent.parent
    server = subprocess.Popen([sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"], cwd=root, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.2)
        from playwright.sync_api import sync_playwright

        from tests.browser import ARGS, CHROMIUM

        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.goto(f"http://127.0.0.1:{port}/accounts/login/?next=/risk/method/")
            page.fill("input[name=username]", "benchheat")
            page.fill("input[name=password]", "bench-pass-123")
            with page.expect_navigation():
                page.click("button.primary")
            sizes = []
            page.on(
                "requestfinished",
                lambda r: sizes.append(r.sizes()["responseBodySize"] + r.sizes()["responseHeadersSize"]),
            )
            t = time.perf_counter()
            page.goto(f"http://127.0.0.1:{port}/risk/heatmap/")
            page.wait_for_selector("#heat-map [data-heat-ready='1']", state="attached", timeout=60_000)
            drawn = time.perf_counter() - t
            browser.close()
        return sum(sizes), drawn
    finally:
        server.terminate()
        server.wait()


def run() -> list[list]:
    from django.db import connection
    from django.test import Client

    from gis_app.carehomes.models import Profile, Role
    from gis_app.risk.scoring import recompute_all

    assign_s = generate()
    full_s = timed(recompute_all, repeat=3)
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.create_user("benchrisk")
    Profile.objects.create(user=user, role=Role.BUREAU)
    client = Client()
    client.force_login(user)
    t = time.perf_counter()
    client.get("/api/risk/subdistricts/")  # the first call after a recomputation renders and caches the table
    cold_ms = (time.perf_counter() - t) * 1000
    samples = []
    for _ in range(30):
        t = time.perf_counter()
        r = client.get("/api/risk/subdistricts/")
        samples.append(time.perf_counter() - t)
    rows = len(json.loads(r.content)["subdistricts"])
    p95 = statistics.quantiles(samples, n=20)[18] * 1000
    p50 = statistics.median(samples) * 1000
    pg_join_s = timed(spatial_join_postgis, repeat=3)
    pg_counts = spatial_join_postgis()
    load_s, gpd_s, gpd_counts = geopandas_join()
    same = pg_counts == {k: int(v) for k, v in gpd_counts.items()}

    page_bytes, drawn_s = heatmap_page(connection.settings_dict["NAME"])
    return [
        ["full recompute: 40k scores + 3,000 aggregates", "1M hazards", f"{full_s:.2f} s", "—", "—", "≤ 2 s"],
        ["per-街镇 table served (API, p95)", f"{rows} rows", f"p50 {p50:.1f} / p95 {p95:.1f} ms (first after recompute {cold_ms:.0f} ms)", "—", "—", "≤ 100 ms"],
        ["hazards per polygon, spatial join", "1M points × 3,000 polygons", f"{pg_join_s:.2f} s (PostGIS)",
         f"{gpd_s:.2f} s (geopandas sjoin; +{load_s:.2f} s loading)", f"{pg_join_s / gpd_s:.2f}×", "same counts: " + ("yes" if same else "NO")],
        ["assign 40k homes to 3,000 polygons (PIP)", "once, on import", f"{assign_s:.2f} s", "—", "—", "—"],
        ["heatmap page, first load", "Chromium", f"{page_bytes / 1e6:.2f} MB, drawn in {drawn_s:.2f} s", "—", "—", "≤ 2 MB, ≤ 1.5 s"],
    ]  # fmt: skip
