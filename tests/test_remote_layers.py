"""Maps draw the 街镇 from one shared, versioned boundaries file and the public homes from their own GeoJSON, so a
page that shows thousands of them embeds none (#20). What each page still says — which 街镇, which values — is checked
here; what the browser draws from it is checked in the browser tests."""

import json
import re

import pytest
from django.test import Client

from gis_app.carehomes.models import CareHome, CareHomeStatus, Subdistrict
from gis_app.risk.scoring import recompute_all

pytestmark = pytest.mark.django_db


def _layers(html: str) -> list[dict]:
    """The options each RemoteGeoJson layer was written with (url, codes, values)."""
    found = []
    for values, codes, url in re.findall(
        r'var values = (null|\{.*?\}), keep = (null|\[.*?\]), link = ".*?";.*?fetch\(("[^"]*")', html, re.S
    ):
        found.append({"values": json.loads(values), "codes": json.loads(codes), "url": json.loads(url)})
    return found


def test_the_boundaries_file_holds_every_subdistrict_and_is_kept_by_version(tanggu):
    client = Client()
    first = client.get("/subdistricts/boundaries.geojson")
    assert first.status_code == 200 and first["Content-Type"] == "application/geo+json"
    data = json.loads(first.content)
    assert sorted(f["properties"]["code"] for f in data["features"]) == sorted(
        Subdistrict.objects.values_list("code", flat=True)
    )
    assert all(f["geometry"]["type"] in ("Polygon", "MultiPolygon") for f in data["features"])
    assert first["Cache-Control"] == "no-cache"  # no version named: not to be kept
    version = first["ETag"].strip('"')
    kept = client.get(f"/subdistricts/boundaries.geojson?v={version}")
    assert kept["Cache-Control"] == "public, max-age=31536000, immutable"
    revalidated = client.get(f"/subdistricts/boundaries.geojson?v={version}", HTTP_IF_NONE_MATCH=kept["ETag"])
    assert revalidated.status_code == 304 and not revalidated.content
    tanggu.name = "塘沽街道（新）"
    tanggu.save()
    changed = client.get(f"/subdistricts/boundaries.geojson?v={version}", HTTP_IF_NONE_MATCH=kept["ETag"])
    assert changed.status_code == 200 and changed["Cache-Control"] == "no-cache"  # a stale version is not kept
    assert changed["ETag"] != kept["ETag"]
    assert "塘沽街道（新）" in {f["properties"]["name"] for f in json.loads(changed.content)["features"]}


def test_a_map_names_the_current_file_and_the_subdistricts_its_user_may_see(world):
    bureau, street = Client(), Client()
    bureau.force_login(world["users"]["bureau"])
    street.force_login(world["users"]["subdistrict"])
    version = Client().get("/subdistricts/boundaries.geojson")["ETag"].strip('"')
    [whole] = _layers(bureau.get("/map/").content.decode())
    assert whole["url"] == f"/subdistricts/boundaries.geojson?v={version}" and whole["codes"] is None
    [own] = _layers(street.get("/map/").content.decode())
    assert own["codes"] == [world["tanggu"].code]
    page = street.get("/map/").content.decode()
    assert world["hangu"].name not in page and '"coordinates"' not in page  # no polygon embedded


def test_the_choropleth_page_carries_only_values_and_colours(world):
    recompute_all()
    client = Client()
    client.force_login(world["users"]["subdistrict"])
    layers = _layers(client.get("/risk/map/").content.decode())
    choropleth = [layer for layer in layers if layer["values"] is not None]
    assert len(choropleth) == 1
    assert set(choropleth[0]["values"]) == {world["tanggu"].code}  # a street office: its own 街镇 only
    assert re.fullmatch(r"#[0-9a-f]{6}", choropleth[0]["values"][world["tanggu"].code]["fill"])


def test_the_public_homes_file_follows_the_lists_filters(world, make_home):
    make_home(world["tanggu"], name="已关闭的养老院", status=CareHomeStatus.CLOSED)
    payload = "<img src=x onerror=alert(1)>"
    make_home(world["hangu"], name=payload)
    client = Client()
    every = json.loads(client.get("/public/homes.geojson").content)
    names = {f["properties"]["name"] for f in every["features"]}
    assert payload in names and "已关闭的养老院" not in names  # operating homes only; names as JSON text
    assert all(f["geometry"]["type"] == "Point" for f in every["features"])
    one = json.loads(client.get(f"/public/homes.geojson?subdistrict={world['hangu'].code}").content)
    expected = CareHome.objects.operating().filter(subdistrict=world["hangu"]).exclude(location=None)
    assert sorted(f["properties"]["name"] for f in one["features"]) == sorted(expected.values_list("name", flat=True))
    assert payload in {f["properties"]["name"] for f in one["features"]}
    found = json.loads(client.get("/public/homes.geojson?q=onerror").content)
    assert [f["properties"]["name"] for f in found["features"]] == [payload]
    page = client.get(f"/public/?subdistrict={world['hangu'].code}").content.decode()
    homes_layer = [layer for layer in _layers(page) if layer["url"].startswith("/public/homes.geojson")]
    assert homes_layer[0]["url"] == f"/public/homes.geojson?subdistrict={world['hangu'].code}"
