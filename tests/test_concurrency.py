"""No silent overwrites: an edit made from an old version of a map feature is refused with both versions named,
however many arrive at once (#16). Parallel requests go to the test web server, as from several users."""

import json
import threading
import urllib.request
from datetime import date

import pytest
from django.contrib.gis.geos import Point

from gis_app.carehomes.tokens import issue
from layers.catalogue import get_layer
from layers.services import save_feature

URL = "/api/layers/fire_equipment/{}/"


def _extinguisher(world):
    home = world["home_a"]
    return save_feature(
        get_layer("fire_equipment"),
        by=world["users"]["bureau"],
        home=home,
        geometry=Point(home.location.x + 0.0001, home.location.y, srid=4326),
        attributes={"kind": "extinguisher", "status": "ok"},
    )


@pytest.mark.django_db
def test_an_edit_from_an_old_version_is_refused_and_names_both(client, world):
    feature = _extinguisher(world)
    client.force_login(world["users"]["bureau"])
    loaded = client.get(URL.format(feature.uuid))
    etag = loaded["ETag"]
    # The home reports the extinguisher faulty (from the version it loaded) ...
    client.force_login(world["users"]["care_home"])
    home = client.patch(
        URL.format(feature.uuid),
        {"type": "Feature", "properties": {"status": "faulty"}},
        content_type="application/json",
        headers={"If-Match": etag},
    )
    assert home.status_code == 200 and home["ETag"] != etag
    # ... the bureau saves "ok" from the page it opened before: refused, nothing lost.
    client.force_login(world["users"]["bureau"])
    stale = client.patch(
        URL.format(feature.uuid),
        {"type": "Feature", "properties": {"status": "ok"}},
        content_type="application/json",
        headers={"If-Match": etag},
    )
    assert stale.status_code == 409
    body = stale.json()
    assert body["code"] == "stale" and "已被他人修改" in body["errors"]["version"]
    assert body["current"]["properties"]["status"] == "faulty"
    feature.refresh_from_db()
    assert feature.status == "faulty"
    # The same through the body's updated_at, and for a delete.
    old = json.loads(loaded.content)["properties"]["updated_at"]
    again = client.patch(
        URL.format(feature.uuid),
        {"type": "Feature", "properties": {"status": "ok", "updated_at": old}},
        content_type="application/json",
    )
    assert again.status_code == 409
    assert client.delete(URL.format(feature.uuid), headers={"If-Match": etag}).status_code == 409
    bad = client.patch(
        URL.format(feature.uuid),
        {"type": "Feature", "properties": {}},
        content_type="application/json",
        headers={"If-Match": '"yesterday"'},
    )
    assert bad.status_code == 400


@pytest.mark.django_db(transaction=True)
def test_of_six_parallel_edits_from_one_version_exactly_one_wins(live_server, world):
    feature = _extinguisher(world)
    token = issue(world["users"]["bureau"])[1]
    url = live_server.url + URL.format(feature.uuid)
    with urllib.request.urlopen(urllib.request.Request(url, headers={"Authorization": f"Token {token}"})) as r:
        etag = r.headers["ETag"]
    statuses, start = [], threading.Barrier(6)

    def edit(status: str):
        body = json.dumps({"type": "Feature", "properties": {"status": status}}).encode()
        request = urllib.request.Request(
            url,
            data=body,
            method="PATCH",
            headers={"Authorization": f"Token {token}", "Content-Type": "application/json", "If-Match": etag},
        )
        start.wait()
        try:
            with urllib.request.urlopen(request, timeout=30) as r:
                statuses.append((r.status, status))
        except urllib.error.HTTPError as e:
            statuses.append((e.code, status))

    threads = [threading.Thread(target=edit, args=(s,)) for s in ("faulty", "missing", "ok", "faulty", "missing", "ok")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    winners = [s for code, s in statuses if code == 200]
    assert len(winners) == 1 and sorted(code for code, _ in statuses) == [200, 409, 409, 409, 409, 409]
    feature.refresh_from_db()
    assert feature.status == winners[0]


def _payload(world) -> dict:
    from datetime import date

    from gis_app.inspections.models import ChecklistVersion

    version = ChecklistVersion.in_force()
    results = [{"item": i.code, "result": "pass"} for i in version.items.all()]
    results[0] = {"item": results[0]["item"], "result": "fail", "note": "插线板串接"}
    return {
        "care_home": world["home_a"].pk,
        "kind": "joint",
        "inspected_on": date.today().isoformat(),
        "signed_by_name": "王科长",
        "results": results,
    }


@pytest.mark.django_db
def test_a_repeated_inspection_submission_is_answered_with_the_first_result(client, world):
    from gis_app.hazards.models import Hazard
    from gis_app.inspections.models import Inspection

    client.force_login(world["users"]["bureau"])
    before = (Inspection.objects.count(), Hazard.objects.count())
    first = client.post(
        "/api/inspections/",
        _payload(world),
        content_type="application/json",
        headers={"Idempotency-Key": "tablet-7:check-42"},
    )
    again = client.post(
        "/api/inspections/",
        _payload(world),
        content_type="application/json",
        headers={"Idempotency-Key": "tablet-7:check-42"},
    )
    assert first.status_code == again.status_code == 201 and first.json() == again.json()
    assert again["Idempotent-Replayed"] == "true" and not first.has_header("Idempotent-Replayed")
    assert (Inspection.objects.count(), Hazard.objects.count()) == (before[0] + 1, before[1] + 1)
    # Another user's identical key is their own submission, not a replay of this one.
    client.force_login(world["users"]["subdistrict"])
    theirs = client.post(
        "/api/inspections/",
        {**_payload(world), "kind": "patrol"},
        content_type="application/json",
        headers={"Idempotency-Key": "tablet-7:check-42"},
    )
    assert theirs.status_code == 201 and theirs.json()["id"] != first.json()["id"]


@pytest.mark.django_db(transaction=True)
def test_parallel_repeats_of_one_submission_record_one_inspection_and_one_hazard(live_server, world):
    from gis_app.hazards.models import Hazard
    from gis_app.inspections.models import Inspection

    token = issue(world["users"]["bureau"])[1]
    before = (Inspection.objects.count(), Hazard.objects.count())
    body = json.dumps(_payload(world)).encode()
    answers, start = [], threading.Barrier(4)

    def submit():
        request = urllib.request.Request(
            f"{live_server.url}/api/inspections/",
            data=body,
            method="POST",
            headers={
                "Authorization": f"Token {token}",
                "Content-Type": "application/json",
                "Idempotency-Key": "dbl-click",
            },
        )
        start.wait()
        with urllib.request.urlopen(request, timeout=60) as r:
            answers.append((r.status, json.loads(r.read())["id"]))

    threads = [threading.Thread(target=submit) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(answers) == 4 and {a for a in answers} == {(201, answers[0][1])}
    assert (Inspection.objects.count(), Hazard.objects.count()) == (before[0] + 1, before[1] + 1)


@pytest.mark.django_db
def test_the_web_form_posted_twice_saves_one_inspection(world):
    from django.test import Client

    from gis_app.inspections.models import ChecklistVersion, Inspection

    client = Client(enforce_csrf_checks=True)
    client.force_login(world["users"]["bureau"])
    url = f"/carehomes/{world['home_a'].pk}/inspections/new/?kind=joint"
    page = client.get(url)
    token = page.context["submission"]
    items = list(ChecklistVersion.in_force().items.all())
    form = {
        "csrfmiddlewaretoken": client.cookies["csrftoken"].value,
        "kind": "joint",
        "submission": token,
        "inspected_on": page.context["inspected_on"].isoformat(),
        "signed_by_name": "王科长",
        **{f"result_{i.code}": "pass" for i in items},
    }
    before = Inspection.objects.count()
    first = client.post(url, form)
    second = client.post(url, form)
    assert first.status_code == second.status_code == 302 and first.url == second.url
    assert Inspection.objects.count() == before + 1
    assert any("已经提交过" in str(m) for m in second.wsgi_request._messages)


@pytest.mark.django_db
def test_a_hazard_step_chosen_on_a_stale_page_is_refused_in_the_web_and_the_api(world):
    from django.test import Client

    from gis_app.hazards.models import Hazard
    from gis_app.hazards.services import report_hazard

    hazard = report_hazard(care_home=world["home_a"], description="疏散通道堆物", by=world["users"]["bureau"])
    seen = hazard.updated_at.isoformat()  # what both people's pages carry
    first, second = Client(), Client()
    first.force_login(world["users"]["care_home"])
    second.force_login(world["users"]["bureau"])
    url = f"/hazards/{hazard.pk}/do/assign/"
    first.post(url, {"responsible_person": "张三", "version": seen})
    stale = second.post(url, {"responsible_person": "李四", "version": seen}, follow=True)
    assert "已被他人更新" in stale.content.decode()
    hazard.refresh_from_db()
    assert hazard.responsible_person == "张三"
    api = second.post(f"/api/hazards/{hazard.pk}/actions/start/", {"comment": "x"}, HTTP_IF_MATCH=f'"{seen}"')
    assert api.status_code == 409 and api.json()["code"] == "stale"
    current = second.get(f"/api/hazards/{hazard.pk}/").json()["properties"]["updated_at"]
    fresh = second.post(f"/api/hazards/{hazard.pk}/actions/verify/", {"comment": "x"}, HTTP_IF_MATCH=f'"{current}"')
    assert fresh.status_code in (200, 409) and fresh.json().get("code") != "stale"
    assert Hazard.objects.get(pk=hazard.pk).responsible_person == "张三"


@pytest.mark.django_db
def test_a_route_stop_edited_from_a_stale_page_is_refused(world):
    from django.test import Client

    from gis_app.routing.models import PlanStatus, PlanStop, RoutePlan
    from gis_app.routing.services import stop_version

    plan = RoutePlan.objects.create(title="复查", date=date.today(), status=PlanStatus.DRAFT)
    stop = PlanStop.objects.create(plan=plan, care_home=world["home_a"], priority=5, service_minutes=30)
    seen = stop_version(stop)
    client = Client()
    client.force_login(world["users"]["bureau"])
    url = f"/routes/{plan.pk}/stops/{stop.pk}/"
    client.post(url, {"service_minutes": 45, "priority": 9, "version": seen})
    RoutePlan.objects.filter(pk=plan.pk).update(status=PlanStatus.DRAFT)  # as if the re-plan had finished
    stale = client.post(url, {"service_minutes": 20, "priority": 1, "version": seen}, follow=True)
    assert "已被他人修改" in stale.content.decode()
    stop.refresh_from_db()
    assert (stop.service_minutes, stop.priority) == (45, 9)


@pytest.mark.django_db
def test_a_hazard_report_form_posted_twice_reports_one_hazard(world):
    from django.test import Client

    from gis_app.hazards.models import Hazard

    client = Client(enforce_csrf_checks=True)
    client.force_login(world["users"]["care_home"])
    url = f"/carehomes/{world['home_a'].pk}/hazards/new/"
    page = client.get(url)
    form = {
        "csrfmiddlewaretoken": client.cookies["csrftoken"].value,
        "submission": page.context["submission"],
        "description": "配电箱前堆放纸箱",
        "category": "other",
        "severity": "general",
        "found_on": page.context["form"].initial["found_on"].isoformat(),
    }
    before = Hazard.objects.count()
    first, second = client.post(url, form), client.post(url, form)
    assert first.status_code == second.status_code == 302 and first.url == second.url
    assert Hazard.objects.count() == before + 1


@pytest.mark.django_db
def test_a_feature_created_twice_with_one_idempotency_key_exists_once(client, world):
    home = world["home_a"]
    client.force_login(world["users"]["bureau"])
    body = {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [home.location.x + 0.0001, home.location.y]},
        "properties": {"care_home": home.pk, "kind": "extinguisher", "status": "ok"},
    }
    first = client.post(
        "/api/layers/fire_equipment/",
        body,
        content_type="application/json",
        headers={"Idempotency-Key": "survey-7:extinguisher-3"},
    )
    again = client.post(
        "/api/layers/fire_equipment/",
        body,
        content_type="application/json",
        headers={"Idempotency-Key": "survey-7:extinguisher-3"},
    )
    assert first.status_code == again.status_code == 201 and first.json()["id"] == again.json()["id"]
    assert again["Idempotent-Replayed"] == "true"
    model = get_layer("fire_equipment").get_model()
    assert model.objects.filter(care_home=home).count() == 1


@pytest.mark.django_db
def test_an_admin_change_from_a_stale_page_is_refused(world, rf):
    from django.contrib import admin
    from django.forms.models import model_to_dict

    from gis_app.carehomes.models import CareHome

    home = world["home_a"]
    model_admin = admin.site._registry[CareHome]
    request = rf.post("/admin/")
    request.user = world["users"]["bureau"]
    form_class = model_admin.get_form(request, home)
    shown = form_class(instance=home).fields["version"].initial
    other = CareHome.objects.get(pk=home.pk)  # someone else saves in between
    other.beds = 99
    other.save()
    data = {k: v for k, v in model_to_dict(home).items() if v is not None}
    data.update(beds=60, version=shown, location=home.location.wkt)
    stale = form_class(data=data, instance=CareHome.objects.get(pk=home.pk))
    assert not stale.is_valid() and "已被他人修改" in str(stale.non_field_errors())
    fresh = form_class(
        data={**data, "version": CareHome.objects.get(pk=home.pk).updated_at.isoformat()},
        instance=CareHome.objects.get(pk=home.pk),
    )
    assert "已被他人修改" not in str(fresh.non_field_errors()) if not fresh.is_valid() else True


@pytest.mark.django_db
def test_the_admin_change_page_carries_the_version(client, world):
    user = world["users"]["bureau"]
    user.is_staff = user.is_superuser = True
    user.save()
    client.force_login(user)
    page = client.get(f"/admin/carehomes/carehome/{world['home_a'].pk}/change/")
    assert page.status_code == 200 and 'name="version"' in page.content.decode()
    assert client.get("/admin/carehomes/carehome/add/").status_code == 200
