import pytest

from gis_app.carehomes.demo import load_demo
from gis_app.carehomes.models import CareHome
from gis_app.hazards.demo import PIXEL
from gis_app.hazards.models import Hazard
from gis_app.inspections.catalogue import load_catalogue

from .browser import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def demo(transactional_db):
    load_demo(ledger=False, layers=False)
    load_catalogue()


def act(page, action: str, fields: dict | None = None, files: dict | None = None) -> None:
    box = page.locator(f"#action-{action}")
    if box.get_attribute("open") is None:
        box.locator("summary").click()
    for name, value in (fields or {}).items():
        box.locator(f"[name={name}]").fill(value)
    for name, path in (files or {}).items():
        box.locator(f"[name={name}]").set_input_files(str(path))
    with page.expect_navigation():
        box.locator("button.primary").click()


def test_a_hazard_walks_from_report_to_close_out(page, live_server, demo, tmp_path):
    photo = tmp_path / "after.png"
    photo.write_bytes(PIXEL)
    login(page, live_server, "home")
    home = CareHome.objects.filter(is_demo=True, subdistrict__code="120116001").order_by("credit_code").first()
    page.goto(f"{live_server.url}/carehomes/{home.pk}/")
    page.click("text=上报隐患")
    page.fill("textarea[name=description]", "电动自行车在一楼楼道内充电")
    page.select_option("select[name=category]", "ebike")
    with page.expect_navigation():
        page.click("button.primary")
    assert "已上报" in page.inner_text("#hazard-status")
    act(page, "assign", {"responsible_person": "周院长"})
    assert "已交办" in page.inner_text("#hazard-status")
    act(page, "start")
    act(page, "submit", {"comment": "车辆已移至室外充电棚"}, {"photos": photo})
    assert "待复查" in page.inner_text("#hazard-status")
    assert page.locator("#action-verify").count() == 0  # the home cannot verify its own work
    page.click("form[action$='/accounts/logout/'] button")
    login(page, live_server, "bureau")
    hazard = Hazard.objects.get(description="电动自行车在一楼楼道内充电")
    page.goto(f"{live_server.url}/hazards/{hazard.pk}/")
    act(page, "verify", {"comment": "现场复查合格"})
    act(page, "close_out")
    assert "已销号" in page.inner_text("#hazard-status")
    timeline = page.inner_text("#timeline")
    for step in ("上报", "交办", "开始整改", "提交复查", "复查通过", "销号"):
        assert step in timeline
    assert page.locator(".photos img").count() == 1
    assert page.external_requests == [] and page.errors == []
    hazard.refresh_from_db()
    assert hazard.status == "closed" and hazard.events.count() == 6


def test_an_inspection_form_with_a_failed_item_creates_a_hazard(page, live_server, demo):
    login(page, live_server, "home")
    home = CareHome.objects.filter(is_demo=True, subdistrict__code="120116001").order_by("credit_code").first()
    page.goto(f"{live_server.url}/carehomes/{home.pk}/inspections/new/?kind=self_check&frequency=daily")
    items = page.locator(".check-item")
    for i in range(items.count()):
        items.nth(i).locator("input[value=pass]").check()
    page.locator("#item-L01 input[value=fail]").check()
    page.fill("#item-L01 input[name=note_L01]", "消防车通道停放私家车")
    with page.expect_navigation():
        page.click("text=签字并保存")
    assert "1 个不合格项已生成隐患" in page.inner_text("body")
    assert "消防车通道" in page.inner_text("#results")
    assert Hazard.objects.filter(care_home=home, description__contains="停放私家车").count() == 1
