import pytest

from gis_app.carehomes.demo import load_demo
from gis_app.carehomes.models import CareHome

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_public_page_without_login(page, live_server, transactional_db):
    load_demo(ledger=False, layers=False)
    page.goto(f"{live_server.url}/public/")
    assert "养老机构消防安全公示" in page.inner_text("h1")
    operating = CareHome.objects.operating().count()
    page.wait_for_selector("path.public-marker")  # fetched after the page: one layer, added at once
    assert page.locator("path.public-marker").count() == operating
    page.select_option("#public-search select[name=subdistrict]", "120116001")
    with page.expect_navigation():
        page.click("#public-search button")
    rows = page.locator("#public-homes tbody tr")
    assert rows.count() == CareHome.objects.operating().filter(subdistrict__code="120116001").count()
    text = page.inner_text("#public-homes")
    assert "****" in text and "13800220" not in text
    assert "失信联合惩戒名单" in page.inner_text("#dishonesty-list")
    assert page.external_requests == [] and page.errors == []
    # framed on the homes found, with 街镇 names; and readable on a phone: nothing scrolls the page sideways
    assert page.locator(".subdistrict-label").count() >= 1
    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    widest = page.evaluate(
        "Math.max(document.documentElement.scrollWidth, document.body.scrollWidth,"
        " ...[...document.querySelectorAll('body *')].filter((e) => !e.closest('.leaflet-container')"
        " && !e.parentElement.closest('.table-scroll'))"
        ".map((e) => e.getBoundingClientRect().right))"
    )
    assert widest <= 391, widest
    assert page.locator("#public-homes").is_visible()
