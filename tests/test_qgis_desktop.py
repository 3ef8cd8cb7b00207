"""The bureau's desktop GIS as it is: Debian's QGIS 3.22 (headless PyQGIS) adds every OGC API collection through a
Basic authentication configuration (user name + GIS token), against the platform served by the web server (#19)."""

from pathlib import Path

import pytest
from django.contrib.gis.geos import LineString, Point

from gis_app.carehomes.tokens import issue
from gis_app.lib.qgis import run_script
from layers.catalogue import CATALOGUE, get_layer
from layers.queries import scoped
from layers.services import save_feature

pytestmark = [pytest.mark.django_db(transaction=True)]
SCRIPT = Path(__file__).parent / "qgis_oapif.py"


def qgis(base: str, username: str, token: str, collections: list[str]) -> dict:
    return run_script(SCRIPT, base, username, token, *collections, timeout=300)


def test_qgis_reads_every_collection_with_a_basic_token_and_sees_only_its_scope(live_server, world):
    bureau, street = world["users"]["bureau"], world["users"]["subdistrict"]
    for home in (world["home_a"], world["home_b"]):
        x, y = home.location.x, home.location.y
        save_feature(
            get_layer("safety_exit"),
            by=bureau,
            home=home,
            geometry=Point(x + 0.0002, y, srid=4326),
            attributes={"kind": "door", "status": "locked"},
        )
        save_feature(
            get_layer("fire_lane"),
            by=bureau,
            home=home,
            attributes={"width_m": "4.50", "status": "clear"},
            geometry=LineString((x, y - 0.0003), (x + 0.0006, y - 0.0003), srid=4326),
        )
    collections = [layer.key for layer in CATALOGUE]
    for user in (bureau, street):
        _, token = issue(user, purpose="gis", name="科室QGIS")
        seen = qgis(live_server.url, user.username, token, collections)
        for key in collections:
            assert seen[key]["valid"], (user.username, key)
            layer = get_layer(key)
            expected = scoped(layer, user).values_list("uuid" if layer.owned_here else "pk", flat=True)
            assert seen[key]["count"] == len(expected), (user.username, key)
            assert seen[key]["uuids"] == sorted(str(v) for v in expected), (user.username, key)
    # the 街镇 office sees its own home's features only; the bureau both homes'
    assert seen["safety_exit"]["count"] == 1 and "LINESTRING" not in (seen["safety_exit"]["first"] or {}).get("wkt", "")
    exit_a = get_layer("safety_exit").get_model().objects.get(care_home=world["home_a"])
    first = seen["safety_exit"]["first"]
    assert first["attrs"]["status"] == "locked"
    lon, lat = (float(v) for v in first["wkt"].split("(")[1].rstrip(")").split())
    assert abs(lon - exit_a.location.x) < 1e-6 and abs(lat - exit_a.location.y) < 1e-6


def test_qgis_with_the_login_password_instead_of_a_token_gets_nothing(live_server, world):
    street = world["users"]["subdistrict"]
    seen = qgis(live_server.url, street.username, "pw-test-12345", ["safety_exit"])
    assert not seen["safety_exit"]["valid"] or seen["safety_exit"]["count"] == 0


def test_the_downloaded_desktop_project_opens_in_qgis_with_every_layer_and_no_secret(live_server, world, tmp_path):
    """The three steps of the README: a GIS token from the 桌面GIS page, a Basic authentication configuration with the
    project's id, the downloaded .qgs opened in QGIS — every OGC API layer valid with the user's scoped counts, the
    catalogue's styles and Chinese names, and a vector-tile layer fetching the z14 tile through the same login."""
    import re

    from django.conf import settings
    from django.test import Client

    from layers.collections import COLLECTIONS

    from .test_layers_gis import tile_of

    bureau, street = world["users"]["bureau"], world["users"]["subdistrict"]
    home = world["home_a"]
    x, y = home.location.x, home.location.y
    save_feature(
        get_layer("safety_exit"),
        by=bureau,
        home=home,
        geometry=Point(x + 0.0002, y, srid=4326),
        attributes={"kind": "door", "status": "locked"},
    )
    bx, by = world["home_b"].location.x, world["home_b"].location.y
    save_feature(
        get_layer("fire_lane"),
        by=bureau,
        home=world["home_b"],
        attributes={"width_m": "5", "status": "clear"},
        geometry=LineString((bx, by), (bx + 0.001, by), srid=4326),
    )
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(street)
    page = browser.get("/layers/desktop/")
    assert page.status_code == 200 and settings.QGIS_AUTHCFG_ID in page.content.decode()
    csrf = page.cookies["csrftoken"].value
    issued = browser.post(
        "/layers/desktop/", {"action": "issue", "name": "科室QGIS", "days": "90", "csrfmiddlewaretoken": csrf}
    )
    assert issued.status_code == 200 and issued["Cache-Control"] == "no-store"
    key = re.search(r'id="new-token-key">([^<]+)<', issued.content.decode()).group(1)
    host = live_server.url.split("//", 1)[1]
    download = browser.get("/layers/desktop.qgs", {"subdistrict": world["tanggu"].code}, HTTP_HOST=host)
    assert download.status_code == 200 and "attachment" in download["Content-Disposition"]
    project = tmp_path / "desktop.qgs"
    project.write_bytes(download.content)
    assert browser.get("/layers/desktop.qgs", {"subdistrict": world["hangu"].code}).status_code == 404  # not theirs

    tx, ty = tile_of(x + 0.0002, y, 14)
    script = Path(__file__).parent.parent / "layers" / "qgis_desktop.py"
    args = ["open", str(project), street.username, key, settings.QGIS_AUTHCFG_ID, "14", str(tx), str(ty)]
    seen = run_script(script, *args, timeout=300)
    assert seen["secret_in_project"] is False and seen["crs"] == "EPSG:4490"
    layers = seen["layers"]
    for collection in COLLECTIONS:
        info = layers[collection.title]
        assert info["valid"] and info["provider"] == "OAPIF", collection.key
        assert f"authcfg={settings.QGIS_AUTHCFG_ID}" in info["source"]
        assert info["count"] == collection.scoped(street).count(), collection.key
    exits = layers["安全出口"]
    assert exits["legend"] == ["问题（上锁、堵塞）", "其他"] and exits["fields"]["status"] == "状态"
    assert layers["街镇边界"]["labels"] and layers["街镇边界"]["count"] == 1
    assert layers["消防车通道"]["count"] == 0  # home_b's lane is in another 街镇
    tiles = layers["安全出口（矢量切片）"]
    assert tiles["valid"] and tiles["visible"] is False and "安全出口：问题" in tiles["styles"]
    assert tiles["pixels"]["problem"] > 10, tiles["pixels"]  # the locked exit, drawn red from the z14 tile
    assert layers["消防车通道（矢量切片）"]["pixels"]["drawn"] == 0  # nothing of another 街镇 in this tile
