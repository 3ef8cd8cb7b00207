"""Retakes the README screenshots from a running `make run` (BASE_URL, default http://127.0.0.1:8000).

.venv/bin/python scripts/screenshots.py

Chinese text needs a CJK font on the machine taking them (Debian: apt-get install fonts-noto-cjk).
"""

import os
import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.browser import ARGS, CHROMIUM  # noqa: E402

BASE = os.environ.get("BASE_URL", "http://127.0.0.1:8000")
OUT = Path(__file__).resolve().parent.parent / "docs" / "screenshots"


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 760})
        page.goto(f"{BASE}/accounts/login/")
        page.fill("input[name=username]", "bureau")
        page.fill("input[name=password]", "demo12345")
        with page.expect_navigation():
            page.click("text=登录 >> nth=-1")
        page.goto(f"{BASE}/map/")
        page.wait_for_selector("path.carehome-marker")
        page.locator("path.carehome-marker").nth(20).click(force=True)
        page.wait_for_selector(".leaflet-popup-content")
        page.screenshot(path=OUT / "map.png")
        page.goto(f"{BASE}/carehomes/")
        page.screenshot(path=OUT / "carehomes.png")
        page.goto(f"{BASE}/hazards/?status=open")
        page.click("#hazards tbody tr.overdue >> nth=0 >> td:nth-child(2) a")
        page.wait_for_selector("#site-map path.carehome-marker")
        page.screenshot(path=OUT / "carehome.png", full_page=True)
        page.goto(f"{BASE}/hazards/")
        page.screenshot(path=OUT / "ledger.png")
        page.goto(f"{BASE}/hazards/supervision/")
        page.click("table >> nth=1 >> tbody tr >> nth=0 >> a")
        page.wait_for_selector("#timeline")
        page.screenshot(path=OUT / "hazard.png", full_page=True)
        page.goto(f"{BASE}/inspections/missed/")
        page.screenshot(path=OUT / "missed.png")
        page.goto(f"{BASE}/risk/")
        page.screenshot(path=OUT / "dashboard.png", full_page=True)
        page.goto(f"{BASE}/risk/map/")
        page.wait_for_selector("path.choropleth")
        page.screenshot(path=OUT / "choropleth.png")
        page.goto(f"{BASE}/risk/heatmap/?hex=1&z=11&lat=39.03&lon=117.62")
        page.wait_for_selector("#heat-map [data-heat-ready='1']", state="attached")
        page.wait_for_selector("path.hex-cell")
        page.screenshot(path=OUT / "heatmap.png")
        page.goto(f"{BASE}/carehomes/16/")
        page.wait_for_selector("#site-map [data-layers-ready='1']", state="attached")
        page.locator("#site-map").scroll_into_view_if_needed()
        page.screenshot(path=OUT / "siteplan.png")
        route = os.environ.get("SCREENSHOT_ROUTE")  # a planned route's id (the page needs one to show)
        if route:
            page.goto(f"{BASE}/routes/{route}/")
            page.wait_for_selector(".route-stop")
            page.screenshot(
                path=OUT / "route.png", full_page=True, clip={"x": 0, "y": 0, "width": 1280, "height": 1300}
            )
        page.goto(f"{BASE}/field/")
        page.screenshot(path=OUT / "field.png")
        page.goto(f"{BASE}/risk/map/")
        page.click("#subdistrict-table tbody tr >> nth=0 >> a")
        page.wait_for_selector("#subdistrict-map .leaflet-container")
        page.screenshot(path=OUT / "subdistrict.png")
        page.goto(f"{BASE}/inspections/missed/")
        page.click("#missed-by-home a[href*='home='] >> nth=0")
        page.wait_for_selector("#missed-detail")
        page.screenshot(path=OUT / "missed.png")
        page.goto(f"{BASE}/public/")
        page.screenshot(path=OUT / "public.png")
        # The home director's day on a tablet: the landing page and the checklist.
        tablet = browser.new_page(viewport={"width": 1024, "height": 768}, has_touch=True)
        tablet.goto(f"{BASE}/accounts/login/")
        tablet.fill("input[name=username]", "home")
        tablet.fill("input[name=password]", "demo12345")
        with tablet.expect_navigation():
            tablet.click("text=登录 >> nth=-1")
        tablet.screenshot(path=OUT / "work.png")
        tablet.click("#work-checks a.button.primary")
        tablet.click("[data-all-pass=form]")
        tablet.locator(".check-item >> nth=0 >> label:has(input[value=fail])").click()
        tablet.locator(".check-item >> nth=0 >> input[name^=note_]").fill("楼道内有电动自行车充电")
        tablet.screenshot(path=OUT / "selfcheck.png")
        browser.close()
    print(f"screenshots written to {OUT}")


if __name__ == "__main__":
    main()
