"""Homes listed with an address only (#18): imported as 未定位, kept off maps and routes, placed by hand (click or
drag, CSRF-checked form) or by the 天地图 geocoder against a local stand-in, a geocoded position marked until confirmed."""

import io
import re

import pytest
from django.test import Client, override_settings
from openpyxl import Workbook

from gis_app.carehomes import locating
from gis_app.carehomes.importers.carehomes import import_carehomes
from gis_app.carehomes.models import CareHome, LocationStatus
from gis_app.jobs.models import Job
from gis_app.jobs.services import run_pending

from .conftest import make_credit_code, point_in
from .tianditu_standin import Standin


def address_list(tanggu_name: str) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.append(["序号", "机构名称", "统一社会信用代码", "地址", "所属街镇", "床位数"])
    ws.append([1, "塘沽颐康苑", make_credit_code(501), "塘沽街道新港路88号", tanggu_name, 60])
    ws.append([2, "无街镇老年公寓", make_credit_code(502), "滨海新区某路1号", None, 30])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def post(client: Client, url: str, data: dict):
    csrf = client.get(url).cookies["csrftoken"].value
    return client.post(url, {**data, "csrfmiddlewaretoken": csrf})


def test_an_address_only_list_is_imported_as_unlocated_and_placed_by_hand(world):
    tanggu, bureau, street = world["tanggu"], world["users"]["bureau"], world["users"]["subdistrict"]
    report = import_carehomes(address_list(tanggu.name), "地址名单.xlsx")
    assert report.committed and report.created == 2 and report.unlocated == 2, report.as_text()
    assert "没有坐标" in report.as_text()
    listed = CareHome.objects.get(credit_code=make_credit_code(501))
    assert listed.location is None and listed.location_status == LocationStatus.UNLOCATED
    assert listed.subdistrict == tanggu and listed.beds == 60
    assert CareHome.objects.get(credit_code=make_credit_code(502)).subdistrict is None
    assert import_carehomes(address_list(tanggu.name), "地址名单.xlsx").unchanged == 2  # idempotent

    office = Client(enforce_csrf_checks=True)
    office.force_login(street)
    page = office.get("/carehomes/unlocated/").content.decode()
    assert "塘沽颐康苑" in page and "无街镇老年公寓" not in page  # its 街镇's homes only
    for url in ("/map/", "/carehomes/", f"/carehomes/{listed.pk}/", "/routes/"):
        r = office.get(url)
        assert r.status_code in (200, 404), (url, r.status_code)  # pages with an unplaced home still render
    assert "未定位" in office.get(f"/carehomes/{listed.pk}/").content.decode()
    assert (
        office.get("/ogc/collections/carehome/items", {"name": "塘沽颐康苑"}).json()["features"][0]["geometry"] is None
    )

    other = point_in(world["hangu"])
    refused = post(office, f"/carehomes/{listed.pk}/locate/", {"lon": other.x, "lat": other.y})
    assert refused.status_code == 400 and "不在本街镇内" in refused.content.decode()
    assert post(office, f"/carehomes/{listed.pk}/locate/", {"lon": "", "lat": ""}).status_code == 400
    here = point_in(tanggu)
    done = post(office, f"/carehomes/{listed.pk}/locate/", {"lon": f"{here.x:.6f}", "lat": f"{here.y:.6f}"})
    assert done.status_code == 302
    listed.refresh_from_db()
    assert listed.location_status == LocationStatus.CONFIRMED and abs(listed.location.x - here.x) < 1e-6
    assert listed.subdistrict == tanggu
    # the same address-only list again does not take the position away
    assert import_carehomes(address_list(tanggu.name), "地址名单.xlsx").unchanged == 2
    listed.refresh_from_db()
    assert listed.location is not None and listed.location_status == LocationStatus.CONFIRMED
    unplaced = CareHome.objects.get(credit_code=make_credit_code(502))
    with pytest.raises(locating.LocateError, match="无权"):
        locating.place(unplaced, here.x, here.y, by=street)  # not listed under its 街镇: the bureau's to place
    locating.place(unplaced, here.x, here.y, by=bureau)
    with pytest.raises(locating.LocateError, match="不在滨海新区"):
        locating.place(unplaced, 116.40, 39.90, by=bureau)  # Beijing


def test_unlocated_homes_cannot_be_routed_or_given_site_plan_features(world):
    from gis_app.routing.services import RoutingError, select_candidates
    from layers.catalogue import get_layer
    from layers.services import FeatureError, save_feature

    bureau = world["users"]["bureau"]
    import_carehomes(address_list(world["tanggu"].name), "地址名单.xlsx")
    home = CareHome.objects.get(credit_code=make_credit_code(501))
    with pytest.raises(RoutingError, match="尚未定位，无法排入路线：塘沽颐康苑"):
        select_candidates(bureau, mode="hand", home_ids=[home.pk])
    chosen = select_candidates(bureau, mode="subdistrict", subdistrict_id=world["tanggu"].pk)
    assert home not in [c.home for c in chosen] and chosen
    here = point_in(world["tanggu"])
    with pytest.raises(FeatureError) as caught:
        save_feature(
            get_layer("safety_exit"),
            by=bureau,
            home=home,
            geometry={"type": "Point", "coordinates": [here.x, here.y]},
            attributes={"kind": "door", "status": "open"},
        )
    assert "尚未定位" in caught.value.errors["geometry"]
    client = Client()
    client.force_login(bureau)
    assert "尚未定位" in client.get("/routes/").content.decode()


@pytest.fixture
def tianditu(world, settings):
    inside = point_in(world["tanggu"])
    standin = Standin(
        "test-key-123",
        {
            "天津市滨海新区塘沽街道新港路88号": (inside.x, inside.y, "地名地址"),
            "天津市滨海新区北京路1号": (116.40, 39.90, "道路"),
        },
    )
    settings.TIANDITU_KEY, settings.TIANDITU_GEOCODER_URL = "test-key-123", standin.url
    yield standin, inside
    standin.close()


def test_the_bureau_geocodes_unlocated_homes_and_a_person_confirms(world, tianditu):
    standin, inside = tianditu
    bureau = world["users"]["bureau"]
    import_carehomes(address_list(world["tanggu"].name), "地址名单.xlsx")
    wb = Workbook()
    ws = wb.active
    ws.append(["机构名称", "统一社会信用代码", "地址"])
    ws.append(["北京路养老院", make_credit_code(503), "北京路1号"])
    buf = io.BytesIO()
    wb.save(buf)
    import_carehomes(buf.getvalue(), "more.xlsx")
    client = Client(enforce_csrf_checks=True)
    client.force_login(bureau)
    assert "用天地图地理编码定位 3 家" in client.get("/carehomes/unlocated/").content.decode()
    r = post(client, "/carehomes/unlocated/", {"action": "geocode"})
    job = Job.objects.get(kind="carehomes.geocode")
    assert r.status_code == 302 and r["Location"] == f"/jobs/{job.pk}/"
    run_pending()
    job.refresh_from_db()
    assert job.status == "succeeded", job.error
    assert job.result["placed"] == 1 and job.result["outside"] == ["北京路养老院"]
    assert job.result["not_found"] == ["无街镇老年公寓"]
    assert "天津市滨海新区塘沽街道新港路88号" in standin.requests  # the district put in front of the listed address
    home = CareHome.objects.get(credit_code=make_credit_code(501))
    assert home.location_status == LocationStatus.GEOCODED and home.geocode_level == "地名地址"
    assert abs(home.location.x - inside.x) < 1e-6 and home.subdistrict == world["tanggu"]
    page = client.get(f"/carehomes/{home.pk}/locate/").content.decode()
    assert "待确认" in page and "locate-confirm" in page
    # running it again asks only for the homes still unlocated and changes nothing placed
    assert locating.geocode_unlocated(CareHome.objects.all()).placed == 0
    assert post(client, f"/carehomes/{home.pk}/locate/", {"action": "confirm"}).status_code == 302
    home.refresh_from_db()
    assert home.location_status == LocationStatus.CONFIRMED
    page = client.get(f"/jobs/{job.pk}/").content.decode()
    assert "确认或调整" in page, page[page.find("job-result") - 200 :]


def test_a_wrong_key_fails_the_job_with_a_reason(world, tianditu, settings):
    import_carehomes(address_list(world["tanggu"].name), "地址名单.xlsx")
    settings.TIANDITU_KEY = "wrong"
    client = Client(enforce_csrf_checks=True)
    client.force_login(world["users"]["bureau"])
    post(client, "/carehomes/unlocated/", {"action": "geocode"})
    run_pending()
    job = Job.objects.get(kind="carehomes.geocode")
    assert job.status == "failed" and "TIANDITU_KEY" in job.error
    assert CareHome.objects.filter(location_status=LocationStatus.GEOCODED).count() == 0


@override_settings(TIANDITU_KEY="")
def test_without_a_key_the_geocode_button_is_not_offered_and_refused(world):
    import_carehomes(address_list(world["tanggu"].name), "地址名单.xlsx")
    client = Client(enforce_csrf_checks=True)
    client.force_login(world["users"]["bureau"])
    page = client.get("/carehomes/unlocated/").content.decode()
    assert "用天地图地理编码" not in page and re.search(r"在地图上标定", page)
    assert post(client, "/carehomes/unlocated/", {"action": "geocode"}).status_code == 403
