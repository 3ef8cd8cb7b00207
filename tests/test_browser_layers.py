import pytest

from gis_app.carehomes.demo import load_demo
from gis_app.carehomes.models import CareHome
from layers.catalogue import CATALOGUE
from layers.models import SafetyExit

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
