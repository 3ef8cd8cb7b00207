"""What GIS users get: vector tiles decoded back, downloads re-read by GDAL, and the OGC API read by GDAL's own client."""

import json
import math
import os
import subprocess

import mapbox_vector_tile
import pytest

from gis_app.carehomes.tokens import issue
from layers import services
from layers.catalogue import get_layer

from .test_layers import near, square


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 2**z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return x, y


@pytest.fixture
def features(world):
    bureau = world["users"]["bureau"]
    out = {}
    for name in ("home_a", "home_b"):
        home = world[name]
        out[name] = [
            services.save_feature(get_layer("safety_exit"), by=bureau, home=home, geometry={"type": "Point", "coordinates": near(home, 4, 4)},
                                  attributes={"kind": "door", "status": "locked", "exit_sign_ok": True}),
            services.save_feature(get_layer("building"), by=bureau, home=home, geometry=square(home, 0, 0, 20), attributes={"name": "1号楼"}),
        ]  # fmt: skip
    return out


def test_tiles_decode_back_to_the_features_and_respect_the_scope(client, world, features):
    home = world["home_a"]
    x, y = tile_of(home.location.x, home.location.y, 16)
    client.force_login(world["users"]["bureau"])
    r = client.get(f"/tiles/safety_exit/16/{x}/{y}.pbf")
    assert r.status_code == 200 and r["Content-Type"] == "application/vnd.mapbox-vector-tile"
    assert "max-age" in r["Cache-Control"] and r["ETag"]
    tile = mapbox_vector_tile.decode(r.content)
    [feature] = tile["safety_exit"]["features"]
    assert feature["properties"]["id"] == str(features["home_a"][0].uuid)
    assert feature["properties"]["status"] == "locked" and feature["properties"]["exit_sign_ok"] is True
    assert feature["geometry"]["type"] == "Point"
    assert client.get(f"/tiles/safety_exit/16/{x}/{y}.pbf", HTTP_IF_NONE_MATCH=r["ETag"]).status_code == 304
    # another home's user gets an empty tile for the same place
    client.force_login(world["users"]["other_home"])
    assert client.get(f"/tiles/safety_exit/16/{x}/{y}.pbf").content == b""
    assert client.get("/tiles/safety_exit/16/99999999/0.pbf").status_code == 404


@pytest.mark.django_db(transaction=True)  # tile versions advance when the change commits
def test_an_edit_makes_cached_tiles_stale(client, world, features):
    home = world["home_a"]
    x, y = tile_of(home.location.x, home.location.y, 16)
    client.force_login(world["users"]["bureau"])
    before = mapbox_vector_tile.decode(client.get(f"/tiles/safety_exit/16/{x}/{y}.pbf").content)
    services.save_feature(
        get_layer("safety_exit"),
        by=world["users"]["bureau"],
        instance=features["home_a"][0],
        attributes={"status": "open"},
    )
    after = mapbox_vector_tile.decode(client.get(f"/tiles/safety_exit/16/{x}/{y}.pbf").content)
    assert before["safety_exit"]["features"][0]["properties"]["status"] == "locked"
    assert after["safety_exit"]["features"][0]["properties"]["status"] == "open"


def ogrinfo(*args: str, env: dict | None = None) -> str:
    return subprocess.run(["ogrinfo", *args], check=True, capture_output=True, text=True, timeout=120,
                          env={**os.environ, **(env or {})}).stdout  # fmt: skip


def test_geopackage_and_geojson_downloads_are_read_by_gdal(client, world, features, tmp_path):
    client.force_login(world["users"]["bureau"])
    home = world["home_a"]
    r = client.get(f"/carehomes/{home.pk}/layers.gpkg")
    assert r.status_code == 200
    path = tmp_path / "home.gpkg"
    path.write_bytes(b"".join(r.streaming_content))
    summary = ogrinfo("-so", "-al", str(path))
    assert (
        "Layer name: safety_exit" in summary and "Layer name: building" in summary and "Layer name: hazard" in summary
    )
    assert "EPSG" in summary and "4326" in summary
    detail = ogrinfo(str(path), "safety_exit")
    assert "status (String) = locked" in detail and str(features["home_a"][0].uuid) in detail
    assert "Feature Count: 1" in ogrinfo("-so", str(path), "safety_exit")
    r = client.get(f"/layers/building/download.geojson?care_home={home.pk}")
    path = tmp_path / "building.geojson"
    path.write_bytes(r.content)
    out = ogrinfo(str(path), "-al")
    assert "Feature Count: 1" in out and "name (String) = 1号楼" in out
    data = json.loads(client.get(f"/carehomes/{home.pk}/layers.geojson").content)
    assert {f["properties"]["layer"] for f in data["features"]} == {"safety_exit", "building"}


def test_ogc_api_documents(client, world, features):
    client.force_login(world["users"]["bureau"])
    landing = client.get("/ogc/").json()
    assert {link["rel"] for link in landing["links"]} >= {"self", "conformance", "data", "service-desc"}
    assert "core" in client.get("/ogc/conformance").json()["conformsTo"][0]
    collections = client.get("/ogc/collections").json()["collections"]
    assert [c["id"] for c in collections][:3] == ["building", "fire_lane", "safety_exit"]
    items = client.get("/ogc/collections/safety_exit/items?limit=1").json()
    assert items["numberMatched"] == 2 and items["numberReturned"] == 1
    assert any(link["rel"] == "next" for link in items["links"])
    page2 = client.get("/ogc/collections/safety_exit/items?limit=1&offset=1").json()
    assert {link["rel"] for link in page2["links"]} >= {"prev", "self"}
    assert client.get("/ogc/collections/safety_exit/items?limit=0").status_code == 400
    client.logout()
    assert client.get("/ogc/collections").status_code == 401


def test_ogc_items_filter_by_datetime_instant_day_and_open_intervals(client, world, features):
    from datetime import datetime, timedelta

    from django.utils import timezone

    model = get_layer("safety_exit").get_model()
    older, newer = features["home_a"][0], features["home_b"][0]
    then = timezone.make_aware(datetime(2026, 11, 3, 9, 30))  # Asia/Shanghai
    model.objects.filter(pk=older.pk).update(updated_at=then)
    model.objects.filter(pk=newer.pk).update(updated_at=then + timedelta(days=20))
    client.force_login(world["users"]["bureau"])

    def ids(value: str) -> set[str]:
        r = client.get("/ogc/collections/safety_exit/items", {"datetime": value})
        assert r.status_code == 200, r.content
        return {f["id"] for f in r.json()["features"]}

    a, b = str(older.uuid), str(newer.uuid)
    assert ids("2026-11-03") == {a}  # a day of the platform's time zone
    assert ids("2026-11-03T01:30:00Z") == {a}  # the same instant in UTC
    assert ids("2026-11-01/2026-11-10") == {a}
    assert ids("2026-11-10/..") == {b} and ids("../2026-11-10") == {a} and ids("2026-11-01/") == {a, b}
    for bad in ("2026-11-03T09:30:00", "yesterday", "2026-12-01/2026-11-01", "../..", "2026-02-30"):
        r = client.get("/ogc/collections/safety_exit/items", {"datetime": bad})
        assert r.status_code == 400 and r.json()["code"] == "InvalidParameterValue", bad


def test_ogc_items_in_cgcs2000_latitude_first_and_bbox_in_it(client, world, features):
    from layers.queries import CGCS2000, CRS84

    client.force_login(world["users"]["bureau"])
    exit_a = features["home_a"][0]
    url = f"/ogc/collections/safety_exit/items/{exit_a.uuid}"
    plain = client.get(url)
    assert plain["Content-Crs"] == f"<{CRS84}>"
    lon, lat = plain.json()["geometry"]["coordinates"]
    cgcs = client.get(url, {"crs": CGCS2000})
    assert cgcs["Content-Crs"] == f"<{CGCS2000}>"
    y, x = cgcs.json()["geometry"]["coordinates"]  # EPSG:4490's axis order: latitude, longitude
    assert abs(y - lat) < 1e-6 and abs(x - lon) < 1e-6  # CGCS2000 and WGS84 agree within centimetres
    collection = client.get("/ogc/collections/safety_exit").json()
    assert CGCS2000 in collection["crs"] and collection["storageCrs"] == CRS84
    assert any("ogcapi-features-2" in c for c in client.get("/ogc/conformance").json()["conformsTo"])
    box = f"{lat - 0.0005},{lon - 0.0005},{lat + 0.0005},{lon + 0.0005}"  # minLat,minLon,maxLat,maxLon
    items = client.get("/ogc/collections/safety_exit/items", {"bbox": box, "bbox-crs": CGCS2000}).json()
    assert [f["id"] for f in items["features"]] == [str(exit_a.uuid)]
    for params in ({"crs": "EPSG:3857"}, {"bbox": box, "bbox-crs": "http://www.opengis.net/def/crs/EPSG/0/3857"}):
        r = client.get("/ogc/collections/safety_exit/items", params)
        assert r.status_code == 400 and r.json()["code"] == "InvalidParameterValue"
    assert client.get(url, {"crs": "EPSG:3857"}).status_code == 400


def test_ogc_queryables_describe_the_fields_and_filter_items(client, world, features):
    bureau = world["users"]["bureau"]
    exit_b = features["home_b"][0]
    get_layer("safety_exit").get_model().objects.filter(pk=exit_b.pk).update(status="open", exit_sign_ok=False)
    client.force_login(bureau)
    conformance = client.get("/ogc/conformance").json()["conformsTo"]
    assert any(c.endswith("/conf/queryables-query-parameters") for c in conformance)
    links = client.get("/ogc/collections/safety_exit").json()["links"]
    [link] = [x for x in links if x["rel"].endswith("/queryables")]
    r = client.get(link["href"])
    assert r.status_code == 200 and r["Content-Type"].startswith("application/schema+json")
    schema = r.json()
    props = schema["properties"]
    assert props["geometry"] == {"x-ogc-role": "primary-geometry", "title": "几何", "format": "geometry-point"}
    assert props["kind"]["enum"] == ["door", "stairway", "outdoor_stair"] and props["kind"]["title"] == "类型"
    assert props["kind"]["x-labels"]["door"] == "安全出口门"
    assert props["clear_width_m"] == {"type": "number", "minimum": 0, "maximum": 20, "title": "净宽（米）"}
    assert props["exit_sign_ok"]["type"] == "boolean" and "status" not in props  # `status` is the shared filter
    assert schema["additionalProperties"] is False

    def ids(**params) -> set[str]:
        r = client.get("/ogc/collections/safety_exit/items", params)
        assert r.status_code == 200, r.content
        return {f["id"] for f in r.json()["features"]}

    a, b = str(features["home_a"][0].uuid), str(exit_b.uuid)
    assert ids(exit_sign_ok="true") == {a} and ids(exit_sign_ok="false") == {b}
    assert ids(kind="door") == {a, b} and ids(kind="stairway") == set()
    assert ids(status="open") == {b}
    for bad in ({"kind": "window"}, {"exit_sign_ok": "yes"}, {"clear_width_m": "wide"}):
        r = client.get("/ogc/collections/safety_exit/items", bad)
        assert r.status_code == 400 and r.json()["description"].startswith(next(iter(bad)) + ": expected"), bad
    assert client.get("/ogc/collections/nope/queryables").status_code == 404


def test_ogc_serves_care_homes_and_subdistrict_boundaries_in_scope(client, world):
    from gis_app.carehomes.models import CareHome
    from layers.queries import CGCS2000

    street, bureau = world["users"]["subdistrict"], world["users"]["bureau"]
    client.force_login(bureau)
    ids = [c["id"] for c in client.get("/ogc/collections").json()["collections"]]
    assert ids[-2:] == ["carehome", "subdistrict"]
    homes = client.get("/ogc/collections/carehome/items", {"limit": 10_000}).json()
    assert homes["numberMatched"] == CareHome.objects.count()
    assert {f["id"] for f in homes["features"]} >= {world["home_a"].pk, world["home_b"].pk}
    a = next(f for f in homes["features"] if f["id"] == world["home_a"].pk)
    assert a["properties"]["name"] == world["home_a"].name
    assert a["properties"]["subdistrict_name"] == world["tanggu"].name
    assert a["properties"]["status_label"] and a["geometry"]["type"] == "Point"
    boundaries = client.get("/ogc/collections/subdistrict/items", {"limit": 100}).json()
    assert boundaries["features"][0]["geometry"]["type"] == "MultiPolygon"
    one = client.get(f"/ogc/collections/subdistrict/items/{world['tanggu'].code}", {"crs": CGCS2000})
    assert one.status_code == 200 and one.json()["properties"]["name"] == world["tanggu"].name
    queryables = client.get("/ogc/collections/carehome/queryables").json()["properties"]
    assert queryables["beds"]["type"] == "integer" and queryables["name"]["title"] == "机构名称"
    by_name = client.get("/ogc/collections/carehome/items", {"name": world["home_b"].name}).json()
    assert [f["id"] for f in by_name["features"]] == [world["home_b"].pk]
    client.force_login(street)  # a 街镇 office: its own homes and its own boundary only
    homes = client.get("/ogc/collections/carehome/items", {"limit": 10_000}).json()
    mine = set(CareHome.objects.filter(subdistrict=world["tanggu"]).values_list("pk", flat=True))
    assert {f["id"] for f in homes["features"]} == mine and world["home_a"].pk in mine
    boundaries = client.get("/ogc/collections/subdistrict/items").json()
    assert [f["id"] for f in boundaries["features"]] == [world["tanggu"].code]
    assert client.get("/ogc/collections/carehome/items", {"beds": "many"}).status_code == 400
    assert client.get(f"/ogc/collections/subdistrict/items/{world['hangu'].code}").status_code == 404
    assert client.get(f"/ogc/collections/carehome/items/{world['home_b'].pk}").status_code == 404


@pytest.mark.django_db(transaction=True)
def test_gdal_reads_the_ogc_api_with_a_token(live_server, world, features):
    token = issue(world["users"]["subdistrict"])[1]
    env = {"GDAL_HTTP_HEADERS": f"Authorization: Token {token}"}
    listing = ogrinfo("-ro", "-so", f"OAPIF:{live_server.url}/ogc", env=env)
    for key in ("building", "fire_lane", "safety_exit", "evacuation_route", "ebike_area", "micro_fire_station",
                "fire_equipment", "fire_control_room", "hazard"):  # fmt: skip
        assert key in listing
    out = ogrinfo("-ro", f"OAPIF:{live_server.url}/ogc", "safety_exit", env=env)
    # the street office of 塘沽 sees only home_a's exit
    assert out.count("OGRFeature(safety_exit)") == 1
    assert "status (String) = locked" in out and "kind (String) = door" in out
    assert str(features["home_a"][0].uuid) in out and str(features["home_b"][0].uuid) not in out
    bad = subprocess.run(
        ["ogrinfo", "-ro", "-so", f"OAPIF:{live_server.url}/ogc"], capture_output=True, text=True, timeout=120
    )
    assert bad.returncode != 0  # no token, no data


@pytest.mark.django_db(transaction=True)
def test_gdal_reads_every_collection_with_basic_and_a_gis_token(live_server, world, features):
    """GDAL_HTTP_USERPWD (HTTP Basic: user name + GIS token), as ArcGIS Pro and QGIS send it; counts are the scope's."""
    from layers.collections import COLLECTIONS

    street = world["users"]["subdistrict"]
    token = issue(street, purpose="gis")[1]
    env = {"GDAL_HTTP_USERPWD": f"{street.username}:{token}", "OAPIF_PAGE_SIZE": "1000"}
    for collection in COLLECTIONS:
        out = ogrinfo("-ro", "-so", f"OAPIF:{live_server.url}/ogc", collection.key, env=env)
        expected = collection.scoped(street).count()
        assert f"Feature Count: {expected}" in out, (collection.key, expected, out[-600:])
    out = ogrinfo("-ro", f"OAPIF:{live_server.url}/ogc", "subdistrict", env=env)
    assert out.count("OGRFeature(subdistrict)") == 1 and f"name (String) = {world['tanggu'].name}" in out
    wrong = {"GDAL_HTTP_USERPWD": f"{street.username}:pw-test-12345"}  # the login password is not a GIS credential
    with pytest.raises(subprocess.CalledProcessError):
        ogrinfo("-ro", "-so", f"OAPIF:{live_server.url}/ogc", env=wrong)


def test_desktop_gis_page_issues_shows_once_and_revokes_gis_tokens(world):
    import re

    from django.test import Client

    from gis_app.carehomes import tokens
    from gis_app.carehomes.models import ApiToken

    street = world["users"]["subdistrict"]
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(street)
    csrf = browser.get("/layers/desktop/").cookies["csrftoken"].value
    r = browser.post(
        "/layers/desktop/", {"action": "issue", "name": "科室QGIS", "days": "30", "csrfmiddlewaretoken": csrf}
    )
    key = re.search(r'id="new-token-key">([^<]+)<', r.content.decode()).group(1)
    assert tokens.check(key, purposes=("gis",)) == street
    again = browser.get("/layers/desktop/").content.decode()
    assert key not in again and key[:10] in again  # the prefix identifies it; the key is never shown again
    token = ApiToken.objects.get(user=street)
    refused = browser.post("/layers/desktop/", {"action": "revoke", "token": token.pk})  # no CSRF token
    assert refused.status_code == 403 and tokens.check(key) == street
    r = browser.post("/layers/desktop/", {"action": "revoke", "token": token.pk, "csrfmiddlewaretoken": csrf})
    assert r.status_code == 302 and tokens.check(key) is None
    other = tokens.issue(world["users"]["bureau"], purpose="gis")[0]  # someone else's token: not found, not revoked
    assert (
        browser.post(
            "/layers/desktop/", {"action": "revoke", "token": other.pk, "csrfmiddlewaretoken": csrf}
        ).status_code
        == 404
    )
    for _ in range(5):
        browser.post("/layers/desktop/", {"action": "issue", "name": "x", "days": "30", "csrfmiddlewaretoken": csrf})
    r = browser.post("/layers/desktop/", {"action": "issue", "name": "y", "days": "30", "csrfmiddlewaretoken": csrf})
    assert "上限 5 个" in r.content.decode() and "new-token-key" not in r.content.decode()
    bad = browser.post("/layers/desktop/", {"action": "issue", "name": "", "days": "7", "csrfmiddlewaretoken": csrf})
    assert "new-token-key" not in bad.content.decode()
    nobody = Client()
    nobody.force_login(world["users"]["no_role"])
    assert nobody.get("/layers/desktop/").status_code == 403
    assert nobody.get("/layers/desktop.qgs").status_code == 403
