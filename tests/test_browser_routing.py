import re

import pytest

from gis_app.jobs.services import run_pending
from gis_app.routing.models import PlanStop, RoutePlan
from gis_app.routing.services import load_places

from .browser import login
from .conftest import ensure_demo

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_bureau_plans_a_joint_inspection_and_sees_it_on_the_map(page, live_server):
    ensure_demo()
    load_places()
    login(page, live_server, "bureau")
    page.goto(f"{live_server.url}/routes/")
    page.fill("input[name=title]", "联合检查（浏览器）")
    page.fill("input[name=limit]", "10")
    page.click("details.advanced summary")  # the solver's settings are folded away
    page.fill("input[name=solver_seconds]", "1")
    page.select_option("select[name=team1_start]", label="滨海新区民政局")
    page.select_option("select[name=team1_end]", label="滨海新区民政局")
    page.select_option("select[name=team2_start]", label="塘沽消防救援站")
    page.select_option("select[name=team2_end]", label="塘沽消防救援站")
    with page.expect_navigation():
        page.click("#plan-form button.primary")
    assert page.inner_text("#plan-status-label") == "规划中"
    run_pending()  # what the worker does; the page follows the job and reloads itself
    page.wait_for_selector("#check-ok", timeout=15_000)
    plan = RoutePlan.objects.get(title="联合检查（浏览器）")
    planned = PlanStop.objects.filter(plan=plan).exclude(team=None)
    assert planned.count() >= 5
    assert page.locator(".route-stop").count() == planned.count()  # one numbered marker per visit
    assert page.locator(".leaflet-overlay-pane path").count() >= 2  # a coloured line per team
    page.locator(".route-stop").first.click()
    page.wait_for_selector(".leaflet-popup-content")
    assert "到达" in page.inner_text(".leaflet-popup-content")
    assert page.locator(".team-itinerary .itinerary tbody tr").count() >= planned.count()
    assert page.external_requests == [] and page.errors == []

    # Lock a skipped or last stop first for team 1 and re-plan from the page.
    stop = PlanStop.objects.filter(plan=plan).order_by("priority").first()
    row = page.locator(f"tr[data-stop='{stop.pk}']")
    row.locator("select[name=locked_team]").select_option(label="第1组")
    row.locator("input[name=locked_position]").fill("1")
    with page.expect_navigation():
        row.locator("button[value=save]").click()
    run_pending()
    # The page still shows the previous plan's check until it reloads itself; read the re-planned page.
    page.reload()
    page.wait_for_selector("#check-ok", timeout=15_000)
    stop.refresh_from_db()
    assert stop.team.name == "第1组" and stop.sequence == 1
    assert stop.care_home.name in page.locator(".team-itinerary").first.locator("tbody tr").first.inner_text()
    # A re-plan says what changed against the last plan.
    assert page.locator("#plan-changes").count() == 1

    # On paper: A4, the site's chrome and the map left out, one page per team, the date with its year.
    page.emulate_media(media="print")
    assert not page.locator("nav").is_visible() and not page.locator("#route-map").is_visible()
    assert page.locator(".print-only").first.is_visible()
    assert plan.date.strftime("%Y年") in page.locator(".print-only").first.inner_text()
    pdf = page.pdf(format="A4")
    teams = page.locator(".team-itinerary").count()
    pages = len(re.findall(rb"/Type\s*/Page(?!s)", pdf))
    assert teams == 2 and pages >= teams, pages  # each team's itinerary starts a page


def test_homes_are_picked_by_typing_and_ticking_not_ctrl_clicking(page, live_server):
    from gis_app.carehomes.models import CareHome

    ensure_demo()
    load_places()
    login(page, live_server, "bureau")
    page.goto(f"{live_server.url}/routes/")
    target = CareHome.objects.order_by("name").last()
    page.fill("input[name=title]", "人工选点（浏览器）")
    page.select_option("select[name=mode]", "hand")
    page.fill("#homes-filter", target.name)
    visible = page.locator("#id_homes label:visible")
    assert visible.count() == 1 and target.name in visible.first.inner_text()
    visible.first.click()  # a large target: the whole row ticks the box
    assert page.inner_text("[data-checked-count=id_homes]") == "已选 1 家"
    page.fill("#homes-filter", "")
    assert page.locator("#id_homes label:visible").count() == CareHome.objects.count()
    page.select_option("select[name=team1_start]", label="滨海新区民政局")
    page.select_option("select[name=team1_end]", label="滨海新区民政局")
    with page.expect_navigation():
        page.click("#plan-form button.primary")
    plan = RoutePlan.objects.get(title="人工选点（浏览器）")
    assert list(PlanStop.objects.filter(plan=plan).values_list("care_home", flat=True)) == [target.pk]
    assert page.errors == []
