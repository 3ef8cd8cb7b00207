"""Stored script injection: HTML and script payloads planted in every free-text field a page shows, then every such
page opened in Chromium as each role that may see it, with every map tooltip and popup opened. Nothing may run."""

from datetime import timedelta

import pytest
from django.contrib.gis.geos import Point

from gis_app.alarms.models import AlarmEvent, Device, EventKind, Vendor
from gis_app.carehomes.models import CareHome, Subdistrict
from gis_app.hazards.models import Hazard
from gis_app.lib import clock
from gis_app.risk.scoring import recompute_all
from gis_app.routing.models import PlanStatus, PlanStop, RoutePlan, Team

from .browser import login
from .conftest import ensure_demo

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Each payload calls window.__x() if it ever runs: as an HTML event handler, as a JavaScript template literal
# (folium puts tooltip text inside `...`), or by closing the inline <script> it was written into.
SHORT = "<img src=x onerror=__x()>`${__x()}`"
LONG = SHORT + "</script><script>__x()</script>\"'><svg onload=__x()>"

RECORD_HITS = "window.__hits = []; window.__x = () => window.__hits.push(location.pathname);"

OPEN_EVERY_POPUP_AND_TOOLTIP = """() => {
  const maps = Object.values(window).filter((v) => v instanceof L.Map);
  let opened = 0;
  for (const map of maps) {
    map.eachLayer((layer) => {
      for (const kind of ["Popup", "Tooltip"]) {
        if (!layer["get" + kind] || !layer["get" + kind]()) continue;
        const children = layer.getLayers ? layer.getLayers() : [layer];
        for (const child of children) {
          const where = child.getLatLng ? child.getLatLng() : child.getBounds ? child.getBounds().getCenter() : null;
          try { layer["open" + kind](child === layer ? where : child, where); opened++; } catch (e) {}
        }
      }
    });
  }
  return opened;
}"""


@pytest.fixture
def planted():
    ensure_demo()
    street = Subdistrict.objects.get(code="120116001")
    street.name = SHORT[:50]
    street.save(update_fields=["name"])
    home = CareHome.objects.filter(subdistrict=street).order_by("pk").first()
    CareHome.objects.filter(pk=home.pk).update(
        name=LONG[:100], address=LONG[:200], fire_safety_owner=SHORT, fire_safety_manager=SHORT
    )
    home.refresh_from_db()
    today = clock.today()
    hazard = Hazard.objects.create(
        care_home=home,
        description=LONG,
        found_on=today,
        due_on=today + timedelta(days=30),
        location=home.location,
        responsible_person=SHORT,
    )
    vendor = Vendor.objects.create(slug="xss", name=LONG[:100], secret="s" * 32)
    device = Device.objects.create(
        vendor=vendor, vendor_device_id="d1", care_home=home, kind="smoke", name=LONG[:100], location=home.location
    )
    AlarmEvent.objects.create(
        vendor=vendor,
        vendor_event_id="e1",
        device=device,
        care_home=home,
        kind=EventKind.FIRE,
        occurred_at=clock.now(),
        note=LONG,
    )
    plan = RoutePlan.objects.create(
        title=LONG[:100],
        date=today,
        status=PlanStatus.PLANNED,
        planned_at=clock.now(),
        travel_seconds=600,
        message=LONG[:300],
    )
    start = Point(117.70, 39.02, srid=4326)
    team = Team.objects.create(
        plan=plan,
        name=SHORT,
        start_name=LONG[:100],
        start=start,
        end_name=SHORT + "2",
        end=Point(117.71, 39.03, srid=4326),
        shift_start=480,
        shift_end=1020,
        departure=28800,
        arrival=36000,
        travel_seconds=600,
    )
    PlanStop.objects.create(
        plan=plan,
        care_home=home,
        priority=9,
        service_minutes=30,
        reason=SHORT,
        team=team,
        sequence=1,
        arrival=30000,
        start=30000,
        departure=31800,
    )
    other = CareHome.objects.filter(subdistrict=street).exclude(pk=home.pk).order_by("pk").first()
    CareHome.objects.filter(pk=other.pk).update(name=SHORT + "（未安排）")
    PlanStop.objects.create(plan=plan, care_home=other, priority=1, service_minutes=30, skipped_reason=LONG[:100])
    recompute_all()
    return {"home": home, "hazard": hazard, "plan": plan, "street": street}


def _visit(page, url: str) -> None:
    page.goto(url)
    page.wait_for_load_state("networkidle")
    if page.evaluate("typeof L !== 'undefined'"):
        page.evaluate(OPEN_EVERY_POPUP_AND_TOOLTIP)
        page.wait_for_timeout(50)


def _assert_inert(page, url: str, *, shows_payload: bool = True) -> None:
    assert page.evaluate("window.__hits") == [], f"a payload ran on {url}"
    assert page.locator("img[src='x'], svg[onload]").count() == 0, f"a payload became markup on {url}"
    if shows_payload:
        assert "<img src=x onerror=__x()>" in page.content().replace("&lt;", "<").replace("&gt;", ">"), url
    assert not [e for e in page.errors if "__x" in e], page.errors


@pytest.mark.parametrize(
    ("username", "paths"),
    [
        (
            "bureau",
            [
                "/map/",
                "/carehomes/",
                "/carehomes/{home}/",
                "/hazards/",
                "/hazards/{hazard}/",
                "/routes/",
                "/routes/{plan}/",
                "/risk/map/",
                "/risk/",
                "/risk/subdistricts/{street}/",
                "/alarms/",
                "/annual/",
                "/inspections/missed/",
                "/risk/heatmap/",
            ],
        ),
        ("street", ["/map/", "/carehomes/{home}/", "/hazards/{hazard}/", "/routes/{plan}/", "/alarms/"]),
    ],
)
def test_no_planted_payload_runs_on_any_page(page, live_server, planted, username, paths):
    page.add_init_script(RECORD_HITS)
    login(page, live_server, username)
    ids = {
        "home": planted["home"].pk,
        "hazard": planted["hazard"].pk,
        "plan": planted["plan"].pk,
        "street": planted["street"].code,
    }
    for path in paths:
        url = live_server.url + path.format(**ids)
        _visit(page, url)
        _assert_inert(page, url, shows_payload="{" in path or path in ("/map/", "/hazards/", "/alarms/"))
    assert page.external_requests == []


def test_public_page_and_csp_header(page, live_server, planted):
    page.add_init_script(RECORD_HITS)
    _visit(page, f"{live_server.url}/public/")
    _assert_inert(page, "/public/")
    response = page.request.get(f"{live_server.url}/public/")
    policy = response.headers["content-security-policy"]
    assert "script-src 'self' 'nonce-" in policy and "unsafe-inline" not in policy.split("script-src")[1].split(";")[0]


def test_the_policy_blocks_an_inline_script_that_slips_through(page, live_server, planted):
    """The second line of defence: even markup that escaped escaping could not run a script."""
    page.add_init_script(RECORD_HITS)
    _visit(page, f"{live_server.url}/public/")
    page.evaluate("""() => { const d = document.createElement('div');
        d.innerHTML = '<img src=x onerror=__x()>'; document.body.appendChild(d); }""")
    page.wait_for_timeout(200)
    assert page.evaluate("window.__hits") == []
