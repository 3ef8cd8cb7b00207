import pytest

from gis_app.carehomes.demo import load_demo
from gis_app.carehomes.models import CareHome
from layers.catalogue import CATALOGUE
from layers.models import EbikeChargingArea, SafetyExit

from .browser import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def demo(transactional_db):
    load_demo(ledger=False, layers=False)


def test_the_site_plan_shows_every_layer_and_a_home_draws_an_exit(page, live_server, demo):
    login(page, live_server, "home")
    home = CareHome.objects.filter(is_demo=True, subdistrict__code="120116001").order_by("credit_code").first()
    page.goto(f"{live_server.url}/carehomes/{home.pk}/")
    page.wait_for_selector("#site-map [data-layers-ready='1']", state="attached")
    legend = page.inner_text("#layer-legend")
    for layer in CATALOGUE:
        assert layer.title in legend
    control = page.inner_text(".leaflet-control-layers")
    assert "安全出口" in control and "消防车通道" in control
    page.select_option("#draw-layer", "safety_exit")
    page.locator("#site-map").scroll_into_view_if_needed()
    box = page.locator("#site-map .folium-map").bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2 + 30, box["y"] + box["height"] / 2 + 20)
    page.wait_for_selector("#feature-panel form")
    page.select_option("#feature-panel select[name=kind]", "door")
    page.select_option("#feature-panel select[name=status]", "locked")
    page.fill("#feature-panel input[name=clear_width_m]", "0.8")
    page.click("#feature-panel button.primary")
    page.wait_for_selector("path.layer-safety_exit")
    exit_ = SafetyExit.objects.get(care_home=home)
    assert exit_.status == "locked" and float(exit_.clear_width_m) == 0.8 and exit_.created_by.username == "home"
    assert exit_.location.distance(home.location) < 0.001
    # a problem value is drawn in red, and the popup shows the Chinese labels
    assert page.locator("path.layer-safety_exit").get_attribute("stroke") == "#d50000"
    page.locator("path.layer-safety_exit").click(force=True)
    assert "上锁" in page.inner_text(".feature-popup")
    assert page.external_requests == [] and page.errors == []


def test_a_bad_value_is_explained_in_chinese_and_nothing_is_stored(page, live_server, demo):
    login(page, live_server, "home")
    home = CareHome.objects.filter(is_demo=True, subdistrict__code="120116001").order_by("credit_code").first()
    page.goto(f"{live_server.url}/carehomes/{home.pk}/")
    page.wait_for_selector("#site-map [data-layers-ready='1']", state="attached")
    page.select_option("#draw-layer", "safety_exit")
    page.locator("#site-map").scroll_into_view_if_needed()
    box = page.locator("#site-map .folium-map").bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.wait_for_selector("#feature-panel form")
    page.select_option("#feature-panel select[name=kind]", "door")
    page.select_option("#feature-panel select[name=status]", "open")
    page.evaluate("document.querySelector('#feature-panel input[name=clear_width_m]').removeAttribute('max')")
    page.fill("#feature-panel input[name=clear_width_m]", "99")
    page.click("#feature-panel button.primary")
    page.wait_for_selector("#feature-error:not([hidden])")
    assert "不能大于 20" in page.inner_text("#feature-error")
    assert not SafetyExit.objects.exists()


def test_drawing_an_area_undoes_a_vertex_finishes_warns_of_a_twin_and_draws_non_compliance_in_red(
    page, live_server, demo
):
    login(page, live_server, "home")
    home = CareHome.objects.filter(is_demo=True, subdistrict__code="120116001").order_by("credit_code").first()
    page.goto(f"{live_server.url}/carehomes/{home.pk}/")
    page.wait_for_selector("#site-map [data-layers-ready='1']", state="attached")

    def centre():  # where the map is now (opening and closing the form scrolls the page)
        page.locator("#site-map").scroll_into_view_if_needed()
        box = page.locator("#site-map .folium-map").bounding_box()
        return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2

    cx, cy = centre()

    def draw(points):
        nonlocal cx, cy
        cx, cy = centre()
        page.select_option("#draw-layer", "ebike_area")
        assert "在地图上" not in page.inner_text("#draw-hint") and "至少需要 3 个" in page.inner_text("#draw-hint")
        for dx, dy in points:
            page.mouse.click(cx + dx, cy + dy)
        return page.locator("#draw-actions")

    actions = draw([(-40, -30), (40, -30), (40, 30), (90, 90)])
    assert "已点 4 个点" in page.inner_text("#draw-hint")
    actions.locator("[data-act=undo]").click()  # the stray fourth click
    assert "已点 3 个点" in page.inner_text("#draw-hint")
    page.mouse.click(cx - 40, cy + 30)
    actions.locator("[data-act=finish]").click()
    page.wait_for_selector("#feature-panel form")
    assert actions.is_hidden()
    # the form is in view and its first field has the focus, without scrolling by hand
    top, bottom, height = page.evaluate(
        "(() => { const r = document.querySelector('#feature-panel').getBoundingClientRect();"
        " return [r.top, r.bottom, window.innerHeight]; })()"
    )
    assert 0 <= top < height and bottom <= height + 1, (top, bottom, height)
    assert page.evaluate("document.activeElement.name") == "capacity"
    page.fill("#feature-panel input[name=capacity]", "12")
    page.select_option("#feature-panel select[name=compliant]", "false")
    page.click("#feature-panel button.primary")
    page.wait_for_selector("path.layer-ebike_area")
    assert "已保存新的电动自行车停放充电区（问题要素，红色显示）" in page.inner_text("#feature-status")
    page.locator("#feature-panel").wait_for(state="hidden")  # the page settles before the next drawing
    area = EbikeChargingArea.objects.get(care_home=home)
    assert area.compliant is False and area.capacity == 12 and len(area.area.coords[0]) == 5  # 4 corners, closed
    assert page.locator("path.layer-ebike_area").get_attribute("stroke") == "#d50000"  # non-compliant: problem style
    # the same area drawn again is pointed out; the editor drops it and nothing is stored
    draw([(-38, -30), (40, -28), (40, 30), (-40, 31)])
    page.locator("#draw-actions [data-act=finish]").click()
    page.wait_for_selector("#feature-panel form")
    page.click("#feature-panel button.primary")
    page.wait_for_selector("#feature-duplicate:not([hidden])")
    assert "可能重复" in page.inner_text("#feature-duplicate") and "重叠" in page.inner_text("#feature-duplicate")
    page.click("#feature-duplicate [data-act=drop]")
    assert page.locator("#feature-panel").is_hidden()
    assert EbikeChargingArea.objects.filter(care_home=home).count() == 1
    # a drawing is cancelled with one click
    page.select_option("#draw-layer", "safety_exit")
    assert "在地图上点击放置安全出口" in page.inner_text("#draw-hint")
    page.click("#draw-actions [data-act=cancel]")
    assert page.locator("#draw-actions").is_hidden()
    page.mouse.click(cx + 100, cy + 60)
    assert page.locator("#feature-panel form").count() == 0 or page.locator("#feature-panel").is_hidden()
    assert page.external_requests == [] and page.errors == []
