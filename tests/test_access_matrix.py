"""The access matrix: every URL pattern × every role × GET (and POST where a page changes state), with an object inside
the role's scope and one outside it, and the answer expected in each cell written down below. A new URL pattern
without a row fails `test_every_url_pattern_has_a_row`, so the matrix stays complete.

Codes: 2 = 200, 3 = a redirect (the login page for the anonymous; elsewhere the page's own), 4 = 403, N = 404,
U = 401, M = 405, B = 400. Columns: anonymous, bureau, fire rescue, 街镇 office (塘沽), home A, third party (serves A),
no role. The "in" string is for objects of home A / 塘沽; the "out" string for home B / 汉沽 (or another user's own).
Out of scope is never 2: nobody is ever served an object outside their scope.
"""

import os
from datetime import date, timedelta

import pytest
from django.contrib.gis.geos import Point
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone

from gis_app.alarms.models import AlarmEvent, Device, Vendor
from gis_app.hazards import services as hz
from gis_app.hazards.dishonesty import Candidate, list_entry
from gis_app.hazards.models import HazardPhoto
from gis_app.inspections.models import Criterion
from gis_app.jobs.models import Job
from gis_app.notifications.models import Notification
from gis_app.routing.models import PlanStatus, PlanStop, RoutePlan, Team
from layers.catalogue import get_layer
from layers.services import save_feature

from .test_concurrency import _payload

pytestmark = pytest.mark.django_db
ROLES = ["anonymous", "bureau", "fire_rescue", "subdistrict", "care_home", "third_party", "no_role"]
RECORD = os.environ.get("ACCESS_MATRIX_RECORD") == "1"


def _hazard(world, home, *, major=False, photo=None):
    kwargs = {"severity": "major", "criterion": Criterion.objects.get(code="MCA2023-2-5")} if major else {}
    return hz.report_hazard(
        care_home=home,
        description="矩阵测试隐患",
        by=world["users"]["bureau"],
        photos=[photo("m.png")] if photo else (),
        **kwargs,
    )


def _plan(home, title):
    plan = RoutePlan.objects.create(
        title=title, date=date.today(), status=PlanStatus.PLANNED, travel_seconds=60, planned_at=timezone.now()
    )
    team = Team.objects.create(
        plan=plan,
        name="第1组",
        start_name="局",
        start=Point(117.7, 39.0, srid=4326),
        end_name="局",
        end=Point(117.7, 39.0, srid=4326),
        shift_start=480,
        shift_end=1020,
    )
    stop = PlanStop.objects.create(plan=plan, care_home=home, priority=5, service_minutes=30, team=team, sequence=1)
    return plan, stop


@pytest.fixture
def objects(world, photo):
    from field_forms.models import Conflict, FieldProject
    from gis_app.inspections.services import InspectionInput, ItemAnswer, record_inspection

    a, b, bureau = world["home_a"], world["home_b"], world["users"]["bureau"]
    out = {}
    for side, home in (("in", a), ("out", b)):
        hazard = _hazard(world, home, photo=photo)
        major = _hazard(world, home, major=True)
        listing = hz.list_for_supervision(
            major, by=bureau, department="区民政局", deadline=date.today() + timedelta(30)
        )
        payload = _payload(world)
        inspection = record_inspection(
            InspectionInput(
                care_home=home,
                kind="joint",
                frequency=None,
                inspected_on=date.today(),
                signed_by_name="王科长",
                answers=[
                    ItemAnswer(r["item"], r["result"], r.get("note", ""), None, None, None) for r in payload["results"]
                ],
            ),
            by=bureau,
        )
        entry = list_entry(
            by=bureau,
            candidate=Candidate(
                care_home=home, person_name="", hazard=major, responsibility=None, basis="逾期未整改", kind="hazard"
            ),
            removal_on=date.today() + timedelta(days=365),
        )
        plan, stop = _plan(home, f"路线{side}")
        exit_ = save_feature(
            get_layer("safety_exit"),
            by=bureau,
            home=home,
            geometry=Point(home.location.x + 0.0001, home.location.y, srid=4326),
            attributes={"kind": "door", "status": "open"},
        )
        vendor = Vendor.objects.get_or_create(slug="matrix", defaults={"name": "矩阵", "secret": "s" * 20})[0]
        device = Device.objects.create(vendor=vendor, vendor_device_id=f"d-{side}", care_home=home, kind="smoke_alarm")
        alarm = AlarmEvent.objects.create(
            vendor=vendor,
            vendor_event_id=f"e-{side}",
            device=device,
            care_home=home,
            kind="fire",
            occurred_at=timezone.now(),
        )
        project = FieldProject.objects.create(scope=f"carehome:{home.pk}", title=f"项目{side}")
        conflict = Conflict.objects.create(
            project=project, layer="safety_exit", uuid=exit_.uuid, kind="both_changed", message="矩阵"
        )
        out[side] = {
            "home": home.pk,
            "hazard": hazard.pk,
            "listing": listing.pk,
            "inspection": inspection.pk,
            "entry": entry.pk,
            "plan": plan.pk,
            "stop": stop.pk,
            "exit": str(exit_.uuid),
            "alarm": alarm.pk,
            "project": project.pk,
            "conflict": conflict.pk,
            "media": HazardPhoto.objects.filter(hazard=hazard).first().image.name,
            "code": home.subdistrict.code,
            "sub": home.subdistrict_id,
            "sub_code": home.subdistrict.code,
        }
    out["in"]["job"] = Job.objects.create(
        kind="hazards.export", title="导出", created_by=world["users"]["care_home"]
    ).pk
    out["out"]["job"] = Job.objects.create(kind="hazards.export", title="导出", created_by=bureau).pk
    for side, user in (("in", world["users"]["care_home"]), ("out", bureau)):
        out[side]["notification"] = Notification.objects.create(user=user, title="通知", dedupe_key=f"m-{side}").pk
    return out


# name -> (path with {placeholders}, expected "in", expected "out" or None when the URL names no object)
MATRIX: dict[str, tuple[str, str, str | None]] = {
    "media": ("/media/{media}", "N22222N", "N22NNNN"),
    "home": ("/", "3333333", None),
    "healthz": ("/healthz", "2222222", None),
    "my-work": ("/work/", "3222222", None),
    "public": ("/public/", "2222222", None),
    "public-homes": ("/public/homes.geojson", "2222222", None),  # what /public/ lists, to anyone
    "subdistrict-boundaries": ("/subdistricts/boundaries.geojson", "2222222", None),  # public, as /public/ draws them
    "dishonesty-list": ("/dishonesty/", "3244444", None),
    "dishonesty-notice": ("/dishonesty/{entry}/notice/", "3244444", "3244444"),
    "dishonesty-notice-xlsx": ("/dishonesty/{entry}/notice.xlsx", "3244444", "3244444"),
    "dishonesty-remove": ("/dishonesty/{entry}/remove/", "3MMMMMM", "3MMMMMM"),
    "login": ("/accounts/login/", "2222222", None),
    "logout": ("/accounts/logout/", "MMMMMMM", None),
    "map": ("/map/", "3222222", None),
    "carehome-list": ("/carehomes/", "3222222", None),
    "carehome-import": ("/carehomes/import/", "3244444", None),
    "carehome-import-template": ("/carehomes/import/template.xlsx", "3222222", None),
    "carehome-unlocated": ("/carehomes/unlocated/", "3242444", None),
    "carehome-locate": ("/carehomes/{home}/locate/", "324244N", "324NNNN"),
    "basemap-tile": ("/basemap/10/843/387", "NNNNNNN", None),  # no BASEMAP_MBTILES in the tests: nothing to serve
    "carehome-detail": ("/carehomes/{home}/", "322222N", "322NNNN"),
    "hazard-new": ("/carehomes/{home}/hazards/new/", "322222N", "322NNNN"),
    "inspection-new": ("/carehomes/{home}/inspections/new/", "322222N", "322NNNN"),
    "home-rating": ("/carehomes/{home}/rating/", "322222N", "322NNNN"),
    "home-drills": ("/carehomes/{home}/drills/", "322222N", "322NNNN"),
    "annual": ("/annual/", "3222222", None),
    "hazard-list": ("/hazards/", "3222222", None),
    "ledger-export": ("/hazards/export/", "3MMMMMM", None),
    "supervision-list": ("/hazards/supervision/", "3222222", None),
    "hazard-detail": ("/hazards/{hazard}/", "322222N", "322NNNN"),
    "hazard-notice": ("/hazards/{hazard}/notice/", "322222N", "322NNNN"),
    "hazard-action": ("/hazards/{hazard}/do/verify/", "3MMMMMM", "3MMMMMM"),
    "hazard-list-supervision": ("/hazards/{hazard}/list/", "3MMMMMM", "3MMMMMM"),
    "supervision-entry": ("/supervision/{listing}/entry/", "3MMMMMM", "3MMMMMM"),
    "supervision-delist": ("/supervision/{listing}/delist/", "3MMMMMM", "3MMMMMM"),
    "missed-checks": ("/inspections/missed/", "3222222", None),
    "inspection-detail": ("/inspections/{inspection}/", "322222N", "322NNNN"),
    "risk-dashboard": ("/risk/", "3222222", None),
    "risk-map": ("/risk/map/", "3222222", None),
    "risk-heatmap": ("/risk/heatmap/", "3222222", None),
    "risk-heat-data": ("/risk/heatmap/data.json?zoom=10", "3222222", None),
    "risk-hex-data": ("/risk/heatmap/hex.geojson?bbox=117.5,38.9,117.9,39.2", "3222222", None),
    "risk-method": ("/risk/method/", "3222222", None),
    "field-home": ("/field/", "3222222", None),
    "field-generate": ("/field/generate/", "3MMMMMM", None),
    "field-pull": ("/field/{project}/pull/", "3MMMMMM", "3MMMMMM"),
    "field-upload": ("/field/upload/", "3MMMMMM", None),
    "field-conflict": ("/field/conflicts/{conflict}/", "3MMMMMM", "3MMMMMM"),
    "route-list": ("/routes/", "3222NNN", None),
    "route-detail": ("/routes/{plan}/", "3222NNN", "322NNNN"),
    "route-itinerary-xlsx": ("/routes/{plan}/itinerary.xlsx", "3222NNN", "322NNNN"),
    "route-replan": ("/routes/{plan}/replan/", "3MMMMMM", "3MMMMMM"),
    "route-stop-add": ("/routes/{plan}/stops/add/", "3MMMMMM", "3MMMMMM"),
    "route-stop-edit": ("/routes/{plan}/stops/{stop}/", "3MMMMMM", "3MMMMMM"),
    "risk-subdistrict": ("/risk/subdistricts/{code}/", "322222N", "322NNNN"),
    "api-risk-subdistricts": ("/api/risk/subdistricts/", "U222222", None),
    "notification-list": ("/notifications/", "3222222", None),
    "notification-open": ("/notifications/{notification}/open/", "3MMMMMM", "3MMMMMM"),
    "job-list": ("/jobs/", "3222222", None),
    "job-download": ("/jobs/{job}/download/", "3NNNNNN", "3NNNNNN"),
    "job-detail": ("/jobs/{job}/", "32NN2NN", "32NNNNN"),
    "job-status": ("/jobs/{job}/status.json", "32NN2NN", "32NNNNN"),
    "alarm-webhook": ("/api/alarms/webhook/matrix/", "MMMMMMM", None),
    "alarm-list": ("/alarms/", "3222222", None),
    "alarm-feed": ("/alarms/feed.json", "3222222", None),
    "alarm-act": ("/alarms/{alarm}/ack/", "3MMMMMM", "3MMMMMM"),
    "api-inspection-create": ("/api/inspections/", "UMMMMMM", None),
    "api-layers": ("/api/layers/", "U222222", None),
    "api-layer-features": ("/api/layers/safety_exit/?care_home={home}", "U222222", "U222222"),
    "api-layer-feature": ("/api/layers/safety_exit/{exit}/", "U22222N", "U22NNNN"),
    "ogc-landing": ("/ogc/", "U222222", None),
    "ogc-conformance": ("/ogc/conformance", "U222222", None),
    "ogc-collections": ("/ogc/collections", "U222222", None),
    "ogc-collection": ("/ogc/collections/safety_exit", "U222222", None),
    "ogc-items": ("/ogc/collections/safety_exit/items?care_home={home}", "U222222", "U222222"),
    "ogc-queryables": ("/ogc/collections/safety_exit/queryables", "U222222", None),
    "ogc-item": ("/ogc/collections/safety_exit/items/{exit}", "U22222N", "U22NNNN"),
    "tile": ("/tiles/safety_exit/14/13542/6213.pbf", "U222222", None),
    "tilejson": ("/tiles/safety_exit.json", "U222222", None),
    "layer-download": ("/layers/safety_exit/download.geojson?care_home={home}", "U222222", "U222222"),
    "carehome-layers-download": ("/carehomes/{home}/layers.geojson", "U22222N", "U22NNNN"),
    "layers-legend": ("/layers/legend/", "3222222", None),
    "layers-desktop": ("/layers/desktop/", "3222224", None),
    "layers-desktop-project": ("/layers/desktop.qgs?subdistrict={sub_code}", "3222224", "322NNN4"),
    "api-subdistrict-list": ("/api/subdistricts/", "U222222", None),
    "api-subdistrict-detail": ("/api/subdistricts/{sub}/", "U22222N", "U22NNNN"),
    "api-carehome-list": ("/api/carehomes/", "U222222", None),
    "api-carehome-detail": ("/api/carehomes/{home}/", "U22222N", "U22NNNN"),
    "api-hazard-list": ("/api/hazards/", "U222222", None),
    "api-hazard-detail": ("/api/hazards/{hazard}/", "U22222N", "U22NNNN"),
    "api-hazard-actions": ("/api/hazards/{hazard}/actions/verify/", "UMMMMMM", "UMMMMMM"),
    "api-root": ("/api/", "U222222", None),
    "audit": ("/audit/", "3244444", None),
    "api-schema": ("/api/schema/", "2222222", None),
}


def _routes() -> set[str]:
    names = set()

    def walk(patterns):
        for p in patterns:
            if isinstance(p, URLResolver):
                if "admin" not in str(p.pattern):
                    walk(p.url_patterns)
            elif isinstance(p, URLPattern) and p.name:
                names.add(p.name)

    walk(get_resolver().url_patterns)
    return names


def test_every_url_pattern_has_a_row():
    missing = _routes() - set(MATRIX)
    assert not missing, f"URL patterns without a row in the access matrix: {sorted(missing)}"


CODE = {200: "2", 301: "3", 302: "3", 400: "B", 401: "U", 403: "4", 404: "N", 405: "M"}


def _answer(client: Client, path: str) -> tuple[str, bytes]:
    response = client.get(path)
    body = b"".join(response.streaming_content) if response.streaming else response.content
    return CODE.get(response.status_code, f"<{response.status_code}>"), body


def test_the_access_matrix(world, objects):
    clients = {"anonymous": Client()}
    for role in ROLES[1:]:
        clients[role] = Client()
        clients[role].force_login(world["users"][role])
    found, wrong = {}, []
    for name, (path, want_in, want_out) in sorted(MATRIX.items()):
        for side, want in (("in", want_in), ("out", want_out)):
            if want is None or (side == "out" and "{" not in path):
                continue
            url = path.format(**objects[side])
            answers = [_answer(clients[role], url) for role in ROLES]
            got = "".join(code for code, _ in answers)
            found[(name, side)] = got
            if side == "out":  # a 200 out of scope may only be an empty answer: nothing of home B in it
                markers = [
                    m.encode() for m in (world["home_b"].name, str(objects["out"]["exit"]), objects["out"]["media"])
                ]
                leaks = [
                    role
                    for role, (code, body) in zip(ROLES, answers, strict=True)
                    if code == "2" and role not in ("bureau", "fire_rescue") and any(m in body for m in markers)
                ]
                assert not leaks, f"{url} served home B's data out of scope to {leaks}"
            if got != want:
                wrong.append(f"{name} [{side}] {url}: expected {want}, got {got}")
    if RECORD:
        for (name, side), got in sorted(found.items()):
            print(f"{name:28} {side:3} {got}")
    assert not wrong, "\n".join(wrong)


# Every page that changes state, posted for home B's objects by each role that may not touch them. Whatever the
# answer (403, 404, a redirect with an error), nothing of home B may change.
POSTS = {
    "dishonesty-remove": "/dishonesty/{entry}/remove/",
    "hazard-action": "/hazards/{hazard}/do/{action}/",
    "hazard-list-supervision": "/hazards/{hazard}/list/",
    "supervision-entry": "/supervision/{listing}/entry/",
    "supervision-delist": "/supervision/{listing}/delist/",
    "field-conflict": "/field/conflicts/{conflict}/",
    "field-pull": "/field/{project}/pull/",
    "route-replan": "/routes/{plan}/replan/",
    "route-stop-add": "/routes/{plan}/stops/add/",
    "route-stop-edit": "/routes/{plan}/stops/{stop}/",
    "alarm-act": "/alarms/{alarm}/ack/",
    "notification-open": "/notifications/{notification}/open/",
    "hazard-new": "/carehomes/{home}/hazards/new/",
    "inspection-new": "/carehomes/{home}/inspections/new/",
    "home-rating": "/carehomes/{home}/rating/",
    "home-drills": "/carehomes/{home}/drills/",
}
ACTIONS = [
    "assign",
    "start",
    "plan",
    "submit",
    "verify",
    "send_back",
    "close_out",
    "fix_on_spot",
    "close_unfixed",
    "reopen",
]


def _state(objects) -> dict:
    """Everything of home B a post could change."""
    from field_forms.models import Conflict, FieldProject
    from gis_app.alarms.models import AlarmEvent
    from gis_app.hazards.models import DishonestyListEntry, Hazard, HazardEvent, SupervisionEntry, SupervisionListing
    from gis_app.inspections.models import Inspection
    from gis_app.rating.models import DrillRecord, StarAssessment

    b = objects["out"]
    return {
        "hazards": list(
            Hazard.objects.filter(care_home=b["home"]).order_by("pk").values_list("pk", "status", "updated_at")
        ),
        "events": HazardEvent.objects.filter(care_home=b["home"]).count(),
        "listing": list(SupervisionListing.objects.filter(pk=b["listing"]).values_list("delisted_on")),
        "entries": SupervisionEntry.objects.filter(listing=b["listing"]).count(),
        "dishonesty": list(DishonestyListEntry.objects.filter(pk=b["entry"]).values_list("removed_on")),
        "conflict": list(Conflict.objects.filter(pk=b["conflict"]).values_list("status")),
        "project": list(FieldProject.objects.filter(pk=b["project"]).values_list("pulled_at")),
        "plan": list(RoutePlan.objects.filter(pk=b["plan"]).values_list("status", "planned_at")),
        "stops": list(
            PlanStop.objects.filter(plan=b["plan"]).order_by("pk").values_list("pk", "priority", "locked_team")
        ),
        "alarm": list(AlarmEvent.objects.filter(pk=b["alarm"]).values_list("status")),
        "notification": list(Notification.objects.filter(pk=b["notification"]).values_list("read_at")),
        "inspections": Inspection.objects.filter(care_home=b["home"]).count(),
        "ratings": StarAssessment.objects.filter(care_home=b["home"]).count(),
        "drills": DrillRecord.objects.filter(care_home=b["home"]).count(),
    }


def test_nobody_changes_anything_outside_their_scope(world, objects):
    before = _state(objects)
    form = {
        "comment": "越权",
        "responsible_person": "张三",
        "due_on": "2030-01-01",
        "department": "x",
        "deadline": "2030-01-01",
        "note": "越权",
        "take": "web",
        "home": world["home_b"].pk,
        "priority": "99",
        "service_minutes": "30",
        "action": "self",
        "d_owner": "5",
        "held_on": "2026-01-01",
        "kind": "evacuation",
        "participants": "3",
        "content": "x",
        "signed_by_name": "x",
        "description": "越权上报",
        "severity": "general",
        "category": "other",
        "found_on": "2026-01-01",
        "measures": "x",
        "safeguards": "x",
        "planned_on": "2030-01-01",
    }
    tried = 0
    for role in ("subdistrict", "care_home", "third_party", "no_role"):
        client = Client()
        client.force_login(world["users"][role])
        for path in POSTS.values():
            for action in ACTIONS if "{action}" in path else [None]:
                url = path.format(**objects["out"], action=action)
                response = client.post(url, form)
                tried += 1
                assert response.status_code in (302, 400, 403, 404, 405), f"{role} POST {url}: {response.status_code}"
    assert _state(objects) == before, "a post changed something outside the poster's scope"
    assert tried == 4 * (len(POSTS) - 1 + len(ACTIONS))
