import pytest

from gis_app.carehomes.demo import load_demo
from gis_app.carehomes.models import CareHome, Subdistrict
from gis_app.jobs.services import run_pending

from .browser import login
from .test_import_carehomes import row, xlsx

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def demo(transactional_db):
    load_demo(ledger=False, layers=False)


def test_bureau_logs_in_and_sees_every_home_and_the_21_subdistricts(page, live_server, demo):
    login(page, live_server, "bureau")
    assert page.url.endswith("/work/")  # lands on 待我处理
    page.click("nav a:has-text('地图')")
    page.wait_for_selector("path.carehome-marker")
    assert page.locator("path.carehome-marker").count() == CareHome.objects.count() == 100
    # 街镇 polygons are drawn with the boundary colour; one SVG path per 街镇 (fetched after the page, added at once).
    page.wait_for_selector('path[stroke="#6a1b9a"]')
    assert page.locator('path[stroke="#6a1b9a"]').count() == 21
    assert "演示用近似边界" in page.locator("#legend").inner_text()
    page.locator("path.carehome-marker").first.click(force=True)
    popup = page.wait_for_selector(".leaflet-popup-content")
    assert "查看详情" in popup.inner_text()
    assert page.external_requests == [] and page.errors == []


def test_a_street_office_sees_only_its_own_subdistrict(page, live_server, demo):
    login(page, live_server, "street")
    page.goto(f"{live_server.url}/map/")
    page.wait_for_selector("path.carehome-marker")
    tanggu = Subdistrict.objects.get(code="120116001")
    assert page.locator("path.carehome-marker").count() == CareHome.objects.filter(subdistrict=tanggu).count()
    page.wait_for_selector('path[stroke="#6a1b9a"]')
    assert page.locator('path[stroke="#6a1b9a"]').count() == 1
    page.goto(f"{live_server.url}/carehomes/")
    assert page.locator("table tbody tr").count() == CareHome.objects.filter(subdistrict=tanggu).count()


def test_bureau_imports_a_spreadsheet_from_the_web_and_follows_the_job(page, live_server, demo, tmp_path):
    login(page, live_server, "bureau")
    page.goto(f"{live_server.url}/carehomes/import/")
    path = tmp_path / "新机构.xlsx"
    path.write_bytes(xlsx([row(801), row(802)]))
    page.set_input_files("input[name=file]", str(path))
    page.click("text=上传并导入")
    page.wait_for_selector("#job")
    assert "排队中" in page.inner_text("#job-status")
    run_pending()  # what the worker does
    page.wait_for_selector("#job-result", timeout=10_000)
    assert "新增 2 家" in page.inner_text("#job-result")
    assert CareHome.objects.filter(name__startswith="导入测试养老院80").count() == 2
    page.goto(f"{live_server.url}/carehomes/?q=导入测试养老院801")
    page.click("text=导入测试养老院801")
    page.wait_for_selector("#site-map path.carehome-marker")
    assert "塘沽街道" in page.inner_text("main")
    assert page.external_requests == [] and page.errors == []


def test_a_long_list_of_homes_is_found_by_typing_part_of_a_name(page, live_server, demo):
    login(page, live_server, "bureau")
    page.goto(f"{live_server.url}/field/")
    target = CareHome.objects.order_by("-name").first()
    part = target.name[:4]
    matching = [h.pk for h in CareHome.objects.order_by("name") if part in h.name]
    page.fill("input[data-filter-options='scope']", part)
    shown = page.eval_on_selector_all("#scope option", "os => os.filter(o => !o.hidden).map(o => o.value)")
    assert sorted(shown) == sorted(f"carehome:{pk}" for pk in matching)  # only the homes named so; no 街镇, no route
    assert page.eval_on_selector("#scope", "s => s.value") == shown[0]  # the first match is chosen
    assert page.errors == [] and page.external_requests == []


def test_bureau_places_a_home_listed_without_coordinates_by_clicking_and_dragging(page, live_server, demo, tmp_path):
    """A list with addresses only: imported from the web as 未定位, then placed on the 待定位 page: a click puts the
    marker, a drag moves it, the address is shown beside the map; the saved position decides the 街镇."""
    from gis_app.carehomes.models import LocationStatus

    login(page, live_server, "bureau")
    page.goto(f"{live_server.url}/carehomes/import/")
    path = tmp_path / "地址名单.xlsx"
    path.write_bytes(xlsx([row(811, 经度=None, 纬度=None, 地址="塘沽街道新港路811号")]))
    page.set_input_files("input[name=file]", str(path))
    page.click("text=上传并导入")
    page.wait_for_selector("#job")
    run_pending()
    page.wait_for_selector("#job-result", timeout=10_000)
    assert "已标为“未定位”" in page.inner_text("#job-result")
    page.click("text=去“待定位”标定位置")
    page.click("#unlocated-homes >> text=在地图上标定")
    page.wait_for_selector("#locate-map .leaflet-container")
    assert "塘沽街道新港路811号" in page.inner_text("#home-address")
    box = page.locator("#locate-map .leaflet-container").bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.wait_for_selector("img.leaflet-marker-icon")
    first = float(page.input_value("#locate-lon"))
    marker = page.locator("img.leaflet-marker-icon").bounding_box()
    page.mouse.move(marker["x"] + marker["width"] / 2, marker["y"] + marker["height"] - 2)
    page.mouse.down()
    page.mouse.move(marker["x"] + marker["width"] / 2 + 40, marker["y"] + marker["height"] - 2, steps=8)
    page.mouse.up()
    assert float(page.input_value("#locate-lon")) > first  # dragged east
    lon, lat = float(page.input_value("#locate-lon")), float(page.input_value("#locate-lat"))
    page.click("#locate-save")
    page.wait_for_selector(".messages")
    assert "已标定" in page.inner_text(".messages")
    home = CareHome.objects.get(name="导入测试养老院811")
    assert home.location_status == LocationStatus.CONFIRMED
    assert abs(home.location.x - lon) < 1e-6 and abs(home.location.y - lat) < 1e-6
    assert home.subdistrict == Subdistrict.objects.containing(home.location).first() is not None
    assert page.external_requests == [] and page.errors == []
