"""The nine everyday tasks of issue #17, done in real Chromium as each role does them, with every interaction counted.

A step is a click or tap, a field typed into, an option chosen or a file picked (tests/browser.py: Steps); logging in
and scrolling are not counted. Each test asserts the outcome and the exact count that the README's table states, so
the table and the platform cannot drift apart. Tablet tasks run at 1024×768 with a touch screen and tap.
"""

import io
import zipfile
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from openpyxl import load_workbook

from gis_app.carehomes.models import CareHome, Subdistrict
from gis_app.hazards import services as hazards
from gis_app.hazards.demo import PIXEL
from gis_app.hazards.models import Hazard
from gis_app.jobs.services import run_pending
from gis_app.lib import clock
from gis_app.notifications.models import Notification
from gis_app.risk.scoring import recompute_all
from gis_app.routing.forms import next_working_day
from gis_app.routing.models import PlanStop, RoutePlan
from gis_app.routing.services import load_places
from layers.models import SafetyExit

from .browser import Steps, login
from .conftest import ensure_demo

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def user(name: str):
    return get_user_model().objects.select_related("profile__care_home").get(username=name)


def the_home() -> CareHome:
    return user("home").profile.care_home


@pytest.fixture
def picture(tmp_path):
    path = tmp_path / "after.png"
    path.write_bytes(PIXEL)
    return path


def test_task_1_a_home_director_self_checks_on_a_tablet_and_fixes_the_failed_item(tablet, live_server, picture):
    ensure_demo()
    login(tablet, live_server, "home")
    assert tablet.url.endswith("/work/")  # lands on the day's work, not on the district map
    steps = Steps(tablet, touch=True)
    steps.go("#work-checks a.button.primary")  # 开始自查
    answer = tablet.locator(".check-item .answers label").first.bounding_box()
    assert answer["height"] >= 44  # touch targets
    steps.click("[data-all-pass=form]")  # 全部合格
    item = tablet.locator(".check-item").first
    steps.click(item.locator("label:has(input[value=fail])"))
    steps.fill(item.locator("input[name^=note_]"), "楼道内有电动自行车充电")
    steps.go("#inspection-form .sticky-submit button.primary")  # 签字并保存
    assert "1 个不合格项已生成隐患" in tablet.inner_text("body")
    steps.go("#results a[href*='/hazards/']")
    fix = tablet.locator("#action-rectified")  # 已整改提交复查: one step, opened first
    assert fix.get_attribute("open") is not None
    steps.pick_file(fix.locator("input[name=photos]"), picture)
    steps.fill(fix.locator("textarea[name=comment]"), "车辆已移至室外充电棚")
    steps.go(fix.locator("button.primary"))
    assert "待复查" in tablet.inner_text("#hazard-status")
    hazard = Hazard.objects.get(care_home=the_home())
    assert hazard.status == "submitted" and hazard.photos.count() == 1
    assert "楼道内有电动自行车充电" in hazard.description and hazard.description.count("：") <= 1
    assert Notification.objects.filter(user__username="bureau", link=f"/hazards/{hazard.pk}/").exists()  # told
    assert steps.count == 9, steps.log  # goal ≤ 12
    assert tablet.external_requests == [] and tablet.errors == []


def test_task_2_the_bureau_verifies_and_closes_out_a_hazard(page, live_server, photo):
    ensure_demo()
    home = the_home()
    hazard = hazards.report_hazard(care_home=home, description="安全出口上锁", by=user("home"), category="exit")
    hazards.rectified(hazard, by=user("home"), note="已拆除门锁", after_photos=[photo()])
    login(page, live_server, "bureau")
    steps = Steps(page)
    steps.go(f"#work-verify a[href='/hazards/{hazard.pk}/']")  # from 待复查 on the landing page
    steps.go("#action-verify button.primary")  # 确认复查通过
    steps.go("#action-close_out button.primary")  # 确认销号
    assert "已销号" in page.inner_text("#hazard-status")
    hazard.refresh_from_db()
    assert hazard.status == "closed"
    told = Notification.objects.filter(user__username="home", link=f"/hazards/{hazard.pk}/")
    assert {n.title for n in told} >= {f"隐患复查通过：{home.name}", f"隐患已销号：{home.name}"}
    assert steps.count == 3, steps.log  # goal ≤ 5
    assert page.external_requests == [] and page.errors == []


def test_task_3_a_street_office_finds_missed_checks_and_exports_them(page, live_server):
    ensure_demo()
    street = Subdistrict.objects.get(code="120116001")
    login(page, live_server, "street")
    steps = Steps(page)
    steps.go("nav a[href='/inspections/missed/']")
    heading = page.inner_text("h1")
    assert street.name in heading and "全部街镇" not in page.inner_text("body")
    steps.go(
        page.locator("#missed-by-home a[href*='home=']").first
    )  # the most missed home's count: its missed days and shifts
    assert page.locator("#missed-detail tbody tr").count() > 0
    download = steps.download("#missed-xlsx")
    assert download.suggested_filename.endswith(".xlsx")
    book = load_workbook(io.BytesIO(open(download.path(), "rb").read()))
    assert book.sheetnames[0] == "漏检明细" and street.name in book["按养老机构"]["A1"].value
    assert steps.count == 3, steps.log
    assert page.external_requests == [] and page.errors == []


def test_task_4_the_bureau_finds_the_riskiest_home(page, live_server):
    ensure_demo()
    home = CareHome.objects.exclude(subdistrict__code="120116001").exclude(subdistrict=None).order_by("pk").first()
    found = clock.today() - timedelta(days=90)
    due = found + timedelta(days=30)
    hazard = hazards.report_hazard(
        care_home=home, description="消防控制室无人值班", by=user("bureau"), found_on=found, due_on=due
    )
    recompute_all()
    login(page, live_server, "bureau")
    steps = Steps(page)
    steps.go("nav a[href='/risk/map/']")  # 街镇风险
    steps.click("#subdistrict-table th:has-text('逾期')")  # sort by overdue hazards
    first = page.locator("#subdistrict-table tbody tr").first
    assert home.subdistrict.name in first.inner_text()
    steps.go(first.locator("a"))
    assert page.locator("#subdistrict-map .leaflet-container").count() == 1  # the 街镇's own map
    top = page.locator("#home-scores tbody tr").first
    assert home.name in top.inner_text() and top.locator("td").nth(4).inner_text() == "1"  # 1 overdue
    steps.go(top.locator("a"))
    assert hazard.description in page.inner_text("#home-hazards")  # its open hazards first on its page
    assert steps.count == 4, steps.log
    assert page.external_requests == [] and page.errors == []


def test_task_5_the_bureau_plans_a_joint_inspection_with_the_fire_service(page, live_server):
    ensure_demo()
    load_places()
    login(page, live_server, "bureau")
    steps = Steps(page)
    steps.go("nav a[href='/routes/']")
    steps.choose("select[name=team2_start]", label="塘沽消防救援站")  # team 1 sets out from the bureau (the default)
    steps.go("#plan-form button.primary")
    run_pending()  # the worker
    page.wait_for_selector("#check-ok", timeout=20_000)
    plan = RoutePlan.objects.get()
    assert plan.date == next_working_day(clock.today()) and plan.title.startswith("联合检查")
    assert PlanStop.objects.filter(plan=plan).exclude(team=None).count() >= 5
    fire = plan.teams.get(name="第2组")
    assert fire.start_name == fire.end_name == "塘沽消防救援站"  # returns where it set out
    assert steps.count == 3, steps.log
    assert page.external_requests == [] and page.errors == []


def test_task_6_the_bureau_prepares_a_field_package_for_one_home(page, live_server):
    ensure_demo()
    home = CareHome.objects.order_by("-pk").first()
    login(page, live_server, "bureau")
    steps = Steps(page)
    steps.go("nav a[href='/field/']")
    steps.fill("#field-generate input[type=search]", home.name)  # narrows 100+ homes to this one and picks it
    steps.go("#field-generate button[value=package]")
    run_pending()  # the worker builds the project with QGIS
    page.wait_for_selector("#job-download", timeout=60_000)
    download = steps.download("#job-download")
    names = zipfile.ZipFile(io.BytesIO(open(download.path(), "rb").read())).namelist()
    assert any(n.endswith(".qgs") for n in names) and any(n.endswith(".gpkg") for n in names)
    assert "carehome:" not in page.inner_text("body")  # no raw identifiers
    assert steps.count == 4, steps.log
    assert page.external_requests == [] and page.errors == []


def test_task_7_a_home_director_draws_a_locked_exit_on_a_tablet(tablet, live_server):
    ensure_demo()
    login(tablet, live_server, "home")
    steps = Steps(tablet, touch=True)
    steps.go("#work-fix a[href^='/carehomes/']")  # 本机构详情与消防平面图
    steps.click("a[href='#site-plan']")
    tablet.wait_for_selector("#site-map [data-layers-ready='1']", state="attached")
    tablet.wait_for_function("Math.abs(document.querySelector('#site-plan').getBoundingClientRect().top) < 2")
    steps.choose("#draw-layer", value="safety_exit")
    box = tablet.locator("#site-map .folium-map").bounding_box()
    steps.point(box["x"] + box["width"] / 2 + 40, box["y"] + box["height"] / 2 + 30)
    tablet.wait_for_selector("#feature-panel form")
    steps.choose("#feature-panel select[name=kind]", value="door")
    steps.choose("#feature-panel select[name=status]", value="locked")
    steps.click("#feature-panel button.primary")
    tablet.wait_for_selector("#feature-status")
    assert "已保存新的安全出口（问题要素，红色显示）" in tablet.inner_text("#feature-status")
    exit_ = SafetyExit.objects.get(care_home=the_home())
    assert exit_.status == "locked" and exit_.kind == "door"
    assert steps.count == 7, steps.log
    assert tablet.external_requests == [] and tablet.errors == []


def test_task_8_a_relative_looks_up_a_home_on_a_phone(phone, live_server):
    ensure_demo()
    home = the_home()
    Subdistrict.objects.filter(pk=home.subdistrict_id).update(public_contact="平安建设办公室 022-25000000")
    phone.goto(f"{live_server.url}/public/")
    steps = Steps(phone, touch=True)
    steps.fill("#public-search input[name=q]", home.name)
    steps.go("#public-search button")
    rows = phone.locator("#public-homes tbody tr")
    assert rows.count() == 1 and home.name in rows.first.inner_text()
    assert "平安建设办公室 022-25000000" in rows.first.inner_text()  # whom to call: the 街镇
    assert phone.locator("path.public-marker").count() == 1
    assert steps.count == 2, steps.log
    assert phone.external_requests == [] and phone.errors == []


def test_task_9_the_bureau_goes_from_this_years_figures_to_the_overdue_hazards(page, live_server):
    ensure_demo()
    home = the_home()
    found = clock.today() - timedelta(days=60)
    due = found + timedelta(days=15)
    late = hazards.report_hazard(
        care_home=home, description="疏散通道堆放杂物", by=user("bureau"), found_on=found, due_on=due
    )
    hazards.report_hazard(care_home=home, description="灭火器压力不足", by=user("bureau"))
    recompute_all()
    login(page, live_server, "bureau")
    steps = Steps(page)
    steps.go("nav a[href='/risk/']")  # 风险看板
    tiles = page.inner_text("#key-numbers")
    assert f"{clock.today().year} 年发现" in tiles
    steps.go("#key-numbers a.overdue-text")  # 逾期隐患
    ledger = page.inner_text("#hazards")
    assert late.description in ledger and "灭火器压力不足" not in ledger
    assert steps.count == 2, steps.log
    assert page.external_requests == [] and page.errors == []
