"""Serving the site-plan layers at national scale: 40,000 homes and 400,000 features (safety exits).

Each figure is the platform (a request through the WSGI application the web server serves, `gis_app.wsgi.application`,
or Django's test client for the JSON API: authenticated, scoped, cached where it caches) against the raw SQL for the same
result, measured in the same run."""

import math
import random
import statistics
import time

HOMES = 40_000
FEATURES = 400_000


def generate() -> None:
    from django.db import connection

    with connection.cursor() as cur:
        # Homes spread over a country-sized box; features within ~100 m of their home.
        cur.execute(
            """
            INSERT INTO carehomes_carehome (name, credit_code, address, location, location_source, beds, residents,
                residents_full_care, ownership, operator, legal_representative, fire_safety_owner, fire_safety_owner_phone,
                fire_safety_manager, fire_safety_manager_phone, status, is_demo, created_at, updated_at, location_status,
                geocode_level)
            SELECT 'bench ' || i, lpad(i::text, 18, '0'), 'x',
                   ST_SetSRID(ST_MakePoint(100 + random() * 22, 23 + random() * 18), 4326), 'wgs84', 50, 40, 10,
                   'private', '', '', '', '', '', '', 'operating', false, now(), now(), 'confirmed', ''
            FROM generate_series(1, %s) i
            """,
            [HOMES],
        )
        cur.execute(
            """
            INSERT INTO layers_safetyexit (uuid, care_home_id, note, surveyed_by, created_at, updated_at, location, kind,
                                           status, clear_width_m)
            SELECT gen_random_uuid(), h.id, '', '', now(), now(),
                   ST_Translate(h.location, (random() - 0.5) * 0.002, (random() - 0.5) * 0.002), 'door',
                   (ARRAY['open', 'locked', 'blocked'])[1 + (random() * 2)::int], 1.2
            FROM carehomes_carehome h, generate_series(1, %s) k
            """,
            [FEATURES // HOMES],
        )
        # As in production (see the migration notes in the README): cluster the table on its spatial index.
        cur.execute(
            "SELECT indexname FROM pg_indexes WHERE tablename = 'layers_safetyexit' AND indexdef LIKE '%%gist%%'"
        )
        index = cur.fetchone()[0]
        cur.execute(f"CLUSTER layers_safetyexit USING {index}")
        cur.execute("ANALYZE layers_safetyexit; ANALYZE carehomes_carehome")


def tile_xy(lon, lat, z):
    n = 2**z
    return int((lon + 180) / 360 * n), int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)


class WsgiClient:
    """GETs through a WSGI application as the web server calls it (the response closed, request_finished sent), keeping
    the cookies the answers set, as a browser or QGIS does. The environ is built as a server builds it, from a dict."""

    def __init__(self, app, cookies: dict[str, str]):
        from django.test import RequestFactory

        self.app, self.cookies = app, dict(cookies)
        self.base = RequestFactory().get("/").environ

    def get(self, path: str) -> tuple[str, bytes]:
        import io

        route, _, query = path.partition("?")
        environ = {**self.base, "PATH_INFO": route, "QUERY_STRING": query, "wsgi.input": io.BytesIO()}
        environ["HTTP_COOKIE"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        status, headers = [], []
        response = self.app(environ, lambda s, h: (status.append(s), headers.extend(h)))
        try:
            body = b"".join(response)
        finally:
            if hasattr(response, "close"):
                response.close()
        for name, value in headers:
            if name.lower() == "set-cookie":
                key, _, rest = value.strip().partition("=")
                self.cookies[key] = rest.split(";")[0]
        return status[0], body


def p95(samples):
    return statistics.quantiles(samples, n=20)[18] * 1000


def run() -> list[list]:
    from django.contrib.auth import get_user_model
    from django.core.cache import caches
    from django.db import connection
    from django.test import Client

    from gis_app.carehomes.models import Profile, Role
    from layers.catalogue import get_layer
    from layers.tiles import render_tile, tile_sql

    generate()
    user = get_user_model().objects.create_user("bench")
    Profile.objects.create(user=user, role=Role.BUREAU)
    client = Client()
    client.force_login(user)
    layer = get_layer("safety_exit")
    rng = random.Random(7)
    with connection.cursor() as cur:
        cur.execute("SELECT ST_X(location), ST_Y(location) FROM carehomes_carehome ORDER BY random() LIMIT 200")
        spots = cur.fetchall()
    tiles = [(14, *tile_xy(lon, lat, 14)) for lon, lat in spots]
    rng.shuffle(tiles)
    from django.db import connections
    from django.test.utils import CaptureQueriesContext

    from gis_app.wsgi import application

    browser = WsgiClient(application, {k: v.value for k, v in client.cookies.items()})
    # A map reads the layer's TileJSON (its URL names the layer's version); the first tile answer brings a ticket.
    template = client.get("/tiles/safety_exit.json").json()["tiles"][0].removeprefix("http://testserver")
    url = lambda z, x, y: template.replace("{z}/{x}/{y}", f"{z}/{x}/{y}")  # noqa: E731
    browser.get(url(0, 0, 0))
    assert "tiles" in browser.cookies
    caches["tiles"].clear()
    platform, raw, cached, unversioned = [], [], [], []
    sql = tile_sql(layer, scoped=False)
    for z, x, y in tiles:
        t = time.perf_counter()
        with connection.cursor() as cur:
            cur.execute(sql, [z, x, y, z, x, y, layer.key])
            cur.fetchone()
        raw.append(time.perf_counter() - t)
        t = time.perf_counter()
        status, body = browser.get(url(z, x, y))
        platform.append(time.perf_counter() - t)
        assert status == "200 OK" and len(body) > 0, status
        with CaptureQueriesContext(connections["default"]) as queries:
            t = time.perf_counter()
            browser.get(url(z, x, y))
            cached.append(time.perf_counter() - t)
        assert not queries.captured_queries, "a cached tile touched the database"
        t = time.perf_counter()
        browser.get(f"/tiles/safety_exit/{z}/{x}/{y}.pbf")  # a client without the version (QGIS): one query
        unversioned.append(time.perf_counter() - t)
    size = len(render_tile(layer, *tiles[0], None))

    # A client paging through the layer follows the `next` links (keyset paging on id): sample 30 pages.
    pages, raw_pages = [], []
    with connection.cursor() as cur:
        cur.execute("SELECT id FROM layers_safetyexit ORDER BY id")
        ids = [r[0] for r in cur.fetchall()]
    for start in rng.sample(range(0, len(ids) - 1000, 1000), 30):
        after = ids[start]
        t = time.perf_counter()
        with connection.cursor() as cur:
            cur.execute(
                "SELECT json_agg(json_build_object('type','Feature','id',t.uuid,'geometry',ST_AsGeoJSON(t.location, 7)::json,"
                "'properties',json_build_object('care_home',t.care_home_id,'care_home_name',h.name,'kind',t.kind,"
                "'status',t.status,'clear_width_m',t.clear_width_m))) "
                "FROM (SELECT * FROM layers_safetyexit WHERE id > %s ORDER BY id LIMIT 1000) t "
                "JOIN carehomes_carehome h ON h.id = t.care_home_id",
                [after],
            )
            cur.fetchone()
        raw_pages.append(time.perf_counter() - t)
        t = time.perf_counter()
        r = client.get(f"/api/layers/safety_exit/?page_size=1000&after={after}")
        pages.append(time.perf_counter() - t)
        assert r.status_code == 200 and len(r.json()["features"]) == 1000
    return [
        ["z14 tile, uncached (p95)", f"{len(tiles)} tiles, e.g. {size} B", f"{p95(platform):.2f} ms", f"{p95(raw):.2f} ms",
         f"{p95(platform) / p95(raw):.2f}×", "≤ 30 ms; ≤ 2× raw"],
        ["z14 tile, cached, no query (p95)", f"{len(tiles)} tiles", f"{p95(cached):.2f} ms", f"{p95(raw):.1f} ms",
         f"{p95(cached) / p95(raw):.2f}×", "≤ 5 ms, no query"],
        ["z14 tile, cached, URL without v (p95)", f"{len(tiles)} tiles", f"{p95(unversioned):.2f} ms",
         f"{p95(raw):.1f} ms", f"{p95(unversioned) / p95(raw):.2f}×", "≤ 5 ms"],
        ["GeoJSON page of 1,000 features (p95)", "30 pages of 400k", f"{p95(pages):.1f} ms", f"{p95(raw_pages):.1f} ms",
         f"{p95(pages) / p95(raw_pages):.2f}×", "≤ 150 ms; ≤ 1.5× raw"],
    ]  # fmt: skip
