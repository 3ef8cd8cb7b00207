"""The bureau's desktop GIS as it is: Debian's QGIS 3.22 (headless PyQGIS) adds every OGC API collection through a
Basic authentication configuration (user name + GIS token), against the platform served by gunicorn (#19)."""

import json
import os
import subprocess
import tempfile
from pathlib import Path

import pytest
from django.contrib.gis.geos import LineString, Point

from gis_app.carehomes.tokens import issue
from layers.catalogue import CATALOGUE, get_layer
from layers.queries import scoped
from layers.services import save_feature

pytestmark = [pytest.mark.django_db(transaction=True)]
SCRIPT = Path(__file__).parent / "qgis_oapif.py"


def qgis(base: str, username: str, token: str, collections: list[str]) -> dict:
    with tempfile.TemporaryDirectory() as home:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": home,
            "QT_QPA_PLATFORM": "offscreen",
            "XDG_RUNTIME_DIR": home,
            "LANG": "C.UTF-8",
        }
        done = subprocess.run(
            ["/usr/bin/python3", str(SCRIPT), base, username, token, *collections],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


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
