import pytest

from gis_app.carehomes.demo import load_demo

from .browser import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_bureau_sees_the_choropleth_and_the_heatmap(page, live_server, transactional_db):
    load_demo(layers=False)
    login(page, live_server, "bureau")
    page.goto(f"{live_server.url}/risk/map/")
    page.wait_for_selector("path.choropleth")
    assert page.locator("path.choropleth").count() == 21
    assert "平均风险分" in page.inner_text("#choropleth-legend")
    assert page.locator("#subdistrict-table tbody tr").count() == 22
    page.locator("path.choropleth").first.click(force=True)  # one layer for all 街镇; each still has its popup
    link = page.wait_for_selector(".leaflet-popup-content a")
    assert link.inner_text() == "查看本街镇养老机构 »" and link.get_attribute("href").startswith("/risk/subdistricts/")
    page.goto(f"{live_server.url}/risk/heatmap/")
    page.wait_for_selector("#heat-map [data-heat-ready='1']", state="attached")
    assert int(page.locator("#heat-canvas").get_attribute("data-points")) > 0
    assert "隐患热力图" in page.inner_text("#heat-controls")
    # context: every 街镇 drawn and named, a scale in metres (no miles)
    assert page.locator(".subdistrict-label").count() == 21 and "新港街道" in page.inner_text("#heat-map")
    assert page.locator(".leaflet-control-scale-line").count() == 1
    assert page.inner_text(".leaflet-control-scale-line").strip().endswith(("km", "m"))
    assert page.inner_text("#heat-max").endswith("条")  # the ramp's end in numbers
    # filters and view kept in the URL: a refresh (or a shared link) shows the same selection
    page.select_option("#heat-form select[name=severity]", "major")
    page.wait_for_function("location.search.includes('severity=major')")
    assert "z=" in page.url and "lat=" in page.url
    page.reload()
    page.wait_for_selector("#heat-map [data-heat-ready='1']", state="attached")
    assert page.input_value("#heat-form select[name=severity]") == "major"
    page.check("text=六边形网格")
    page.wait_for_selector("path.hex-cell")
    assert page.inner_text("#hex-edge").startswith("六边形边长约")  # the ground's length at the map's latitude
    # a shared link opens at its view (the page's own framing does not undo it a frame later)
    page.goto(f"{live_server.url}/risk/heatmap/?z=12&lat=39.03&lon=117.65")
    page.wait_for_selector("#heat-map [data-heat-ready='1']", state="attached")
    page.wait_for_timeout(600)
    view = page.evaluate(
        "(m => [m.getZoom(), m.getCenter().lat, m.getCenter().lng])(window[document.querySelector('#heat-map .folium-map').id])"
    )
    assert view[0] == 12 and abs(view[1] - 39.03) < 1e-6 and abs(view[2] - 117.65) < 1e-6, view
    assert "z=12" in page.url
    assert page.external_requests == [] and page.errors == []
