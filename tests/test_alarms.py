"""IoT alarms: the webhook's authentication, validation and idempotency; MQTT end to end with a real broker; alarms
that turn into hazards on a fake clock; notifications; the feed's scope."""

import json
import shutil
import socket
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from gis_app.alarms.models import AlarmEvent, Device, Vendor
from gis_app.alarms.services import signature
from gis_app.alarms.sweep import sweep
from gis_app.notifications.models import Notification


@pytest.fixture
def vendor(world):
    v = Vendor.objects.create(slug="acme", name="Acme IoT", secret="s3cret")
    Device.objects.create(vendor=v, vendor_device_id="D1", care_home=world["home_a"], kind="smoke_alarm", name="2楼走廊",
                          location=world["home_a"].location)  # fmt: skip
    Device.objects.create(vendor=v, vendor_device_id="D2", care_home=world["home_b"], kind="electrical_monitor")
    return v


def event(event_id="e1", device="D1", kind="fire", when=None):
    when = when or timezone.now()
    return {"event_id": event_id, "device_id": device, "kind": kind, "occurred_at": when.isoformat()}


def post(client, body, *, secret="s3cret", ts=None, vendor="acme", sign=True):
    raw = json.dumps(body).encode() if not isinstance(body, bytes) else body
    ts = str(int(ts if ts is not None else time.time()))
    headers = {"HTTP_X_ALARM_TIMESTAMP": ts, "HTTP_X_ALARM_SIGNATURE": signature(secret, ts, raw)} if sign else {}
    return client.post(f"/api/alarms/webhook/{vendor}/", raw, content_type="application/json", **headers)


def test_a_signed_event_is_stored_once_and_duplicates_are_ignored(client, vendor):
    r = post(client, event())
    assert r.status_code == 200 and r.json() == {"accepted": 1, "duplicates": 0}
    r = post(client, {"events": [event(), event("e2", kind="fault")]})
    assert r.json() == {"accepted": 1, "duplicates": 1}
    assert AlarmEvent.objects.count() == 2
    e = AlarmEvent.objects.get(vendor_event_id="e1")
    assert e.care_home == e.device.care_home and e.status == "new"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"sign": False}, "missing"),
        ({"secret": "wrong"}, "does not match"),
        ({"ts": time.time() - 3600}, "replayed"),
    ],
)
def test_authentication_is_checked_on_every_request(client, vendor, kwargs, message):
    r = post(client, event(), **kwargs)
    assert r.status_code == 401 and message in r.json()["errors"]["signature"]
    assert not AlarmEvent.objects.exists()


def test_bad_payloads_get_precise_errors_and_store_nothing(client, vendor, settings):
    r = post(client, b"{not json")
    assert r.status_code == 400 and "not valid JSON" in r.json()["errors"]["body"]
    r = post(
        client, {"events": [event(), {"event_id": "x", "device_id": "D1", "kind": "smoke", "occurred_at": "yesterday"}]}
    )
    assert r.status_code == 400 and set(r.json()["errors"]) == {"1.kind", "1.occurred_at"}
    r = post(client, {"events": [event(device="NOPE")]})
    assert r.status_code == 422 and "unknown device" in r.json()["errors"]["0.device_id"]
    r = post(client, {"events": []})
    assert r.status_code == 400
    settings.ALARM_MAX_BODY_BYTES = 100
    assert post(client, {"events": [event(f"e{i}") for i in range(10)]}).status_code == 413
    assert post(client, event(), vendor="nobody").status_code == 404
    assert not AlarmEvent.objects.exists()


def test_a_fire_alarm_notifies_the_home_and_the_bureau_at_once_exactly_once_and_mails_by_a_job(
    client, vendor, world, settings, mailoutbox
):
    """The event and its notices are written by one statement (never one without the other), with the time of the
    alarm in local time; the vendor sending it again notices nobody twice; e-mails go by a job, not while the vendor
    waits, and a retried job sends nothing twice."""
    from django.contrib.auth import get_user_model

    from gis_app.jobs.models import Job
    from gis_app.jobs.services import run_pending

    settings.EMAIL_NOTIFICATIONS = True
    get_user_model().objects.filter(pk=world["users"]["care_home"].pk).update(email="home@example.cn")
    get_user_model().objects.filter(pk=world["users"]["fire_rescue"].pk).update(is_active=False)
    when = timezone.make_aware(datetime(2026, 12, 2, 23, 40, 5))  # 15:40:05 UTC
    assert post(client, event(when=when)).json() == {"accepted": 1, "duplicates": 0}
    stored = AlarmEvent.objects.get(vendor_event_id="e1")
    notices = Notification.objects.filter(dedupe_key=f"alarm:{stored.pk}")
    home = world["home_a"]
    bureau = set(get_user_model().objects.filter(is_active=True, profile__role="bureau").values_list("pk", flat=True))
    assert world["users"]["bureau"].pk in bureau
    text = "独立式感烟报警器（单点报警） 2楼走廊（2026-12-02 23:40:05）报火警，请立即核实处置"
    assert {(n.user_id, n.title, n.body, n.link) for n in notices} == {
        (pk, f"【火警】{home.name}", text, f"/alarms/#alarm-{stored.pk}")
        for pk in bureau | {world["users"]["care_home"].pk}
    }
    assert mailoutbox == []  # not while the vendor waits
    [job] = Job.objects.filter(kind="notifications.email")
    assert post(client, event(when=when)).json() == {"accepted": 0, "duplicates": 1}
    assert notices.count() == len(bureau) + 1 and Job.objects.filter(kind="notifications.email").count() == 1
    run_pending()
    assert [m.to for m in mailoutbox] == [["home@example.cn"]] and "【火警】" in mailoutbox[0].subject
    job.refresh_from_db()
    assert job.result == {"notices": 1, "emailed": 1}
    from gis_app.notifications.jobs import email

    assert email(job, lambda *a, **k: None) == {"notices": 1, "emailed": 0}  # a retry: nothing twice
    assert len(mailoutbox) == 1
    # a fault notifies nobody
    post(client, event("e2", kind="fault"))
    assert Notification.objects.count() == len(bureau) + 1


def test_a_lasting_fault_becomes_one_hazard(client, vendor, clock_at, settings):
    settings.ALARM_FAULT_HOURS = 24
    start = timezone.make_aware(datetime(2026, 11, 1, 8, 0))
    clock_at(start)
    AlarmEvent.objects.create(vendor=vendor, vendor_event_id="f1", device=Device.objects.get(vendor_device_id="D1"),
                              care_home=Device.objects.get(vendor_device_id="D1").care_home, kind="fault", occurred_at=start)  # fmt: skip
    clock_at(start + timedelta(hours=23))
    assert sweep() == {"faults": 0, "false_alarms": 0}
    clock_at(start + timedelta(hours=25))
    assert sweep()["faults"] == 1
    hazard = AlarmEvent.objects.get(vendor_event_id="f1").hazard
    assert hazard.status == "reported" and "故障已持续 25 小时" in hazard.description
    assert sweep()["faults"] == 0  # once


def test_a_recovered_fault_does_not(vendor, clock_at):
    start = timezone.make_aware(datetime(2026, 11, 1, 8, 0))
    device = Device.objects.get(vendor_device_id="D1")
    for i, kind in enumerate(("fault", "recovery")):
        AlarmEvent.objects.create(vendor=vendor, vendor_event_id=f"r{i}", device=device, care_home=device.care_home, kind=kind,
                                  occurred_at=start + timedelta(hours=i))  # fmt: skip
    clock_at(start + timedelta(days=3))
    assert sweep()["faults"] == 0


def test_repeated_false_alarms_become_a_hazard(vendor, clock_at, settings):
    settings.ALARM_FALSE_ALARMS = 3
    device = Device.objects.get(vendor_device_id="D1")
    now = timezone.now()
    for i in range(3):
        AlarmEvent.objects.create(vendor=vendor, vendor_event_id=f"x{i}", device=device, care_home=device.care_home, kind="fire",
                                  occurred_at=now - timedelta(days=i), false_alarm=True, status="handled")  # fmt: skip
    assert sweep()["false_alarms"] == 1
    assert "误报火警 3 次" in AlarmEvent.objects.get(vendor_event_id="x0").hazard.description


def test_the_feed_and_handling_are_scoped(client, vendor, world):
    post(client, {"events": [event("a", "D1"), event("b", "D2")]})
    client.force_login(world["users"]["care_home"])
    homes = {e["home_id"] for e in client.get("/alarms/feed.json?after=0").json()["events"]}
    assert homes == {world["home_a"].pk}
    other = AlarmEvent.objects.get(vendor_event_id="b")
    assert client.post(f"/alarms/{other.pk}/ack/").status_code == 404
    mine = AlarmEvent.objects.get(vendor_event_id="a")
    client.post(f"/alarms/{mine.pk}/handle/", {"note": "", "false_alarm": "on"})
    mine.refresh_from_db()
    assert mine.status == "new"  # a note is required
    client.post(f"/alarms/{mine.pk}/handle/", {"note": "厨房油烟误触发", "false_alarm": "on"})
    mine.refresh_from_db()
    assert mine.status == "handled" and mine.false_alarm and mine.acknowledged_at is not None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def mosquitto(tmp_path):
    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    port = free_port()
    conf = tmp_path / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
    proc = subprocess.Popen([binary, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(50):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.1)
    yield port
    proc.terminate()
    proc.wait()


@pytest.mark.django_db(transaction=True)
def test_mqtt_end_to_end_with_a_real_broker(world, mosquitto, settings):
    import paho.mqtt.publish as publish

    Vendor.objects.create(slug="acme", name="Acme", secret="s")
    Device.objects.create(
        vendor=Vendor.objects.get(slug="acme"), vendor_device_id="D1", care_home=world["home_a"], kind="panel"
    )
    root = Path(__file__).resolve().parent.parent
    env_db = settings.DATABASES["default"]
    url = f"postgres://{env_db['USER']}@{env_db['HOST']}:{env_db['PORT']}/{env_db['NAME']}"
    import os

    sub = subprocess.Popen([sys.executable, "manage.py", "run_mqtt", "--url", f"mqtt://127.0.0.1:{mosquitto}"], cwd=root,
                           env={**os.environ, "DATABASE_URL": url}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # fmt: skip
    try:
        line = sub.stdout.readline()
        assert "subscribed" in line, line
        payload = json.dumps({"events": [event("m1"), event("m1"), event("m2", kind="test")]})
        publish.single("alarms/acme/events", payload, qos=1, hostname="127.0.0.1", port=mosquitto)
        publish.single("alarms/acme/events", json.dumps(event("m1")), qos=1, hostname="127.0.0.1", port=mosquitto)
        for _ in range(50):
            if AlarmEvent.objects.count() >= 2:
                break
            time.sleep(0.1)
        time.sleep(0.5)
        assert sorted(AlarmEvent.objects.values_list("vendor_event_id", flat=True)) == ["m1", "m2"]
    finally:
        sub.terminate()
        sub.wait()


def _fast_path(body: bytes, *, content_type="application/json", vendor="acme", **headers) -> tuple[int, dict]:
    """The WSGI fast path (what the web server serves) called as a WSGI server calls it."""
    import io

    from django.core import signals
    from django.db import close_old_connections

    from gis_app.alarms.fast import AlarmWebhookFastPath

    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": f"/api/alarms/webhook/{vendor}/",
        "CONTENT_TYPE": content_type,
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
        "HTTP_HOST": "testserver",
        "SERVER_NAME": "testserver",
        "wsgi.url_scheme": "http",
        **headers,
    }
    answer = {}

    def start_response(status, response_headers):
        answer["status"] = int(status.split()[0])

    def django(environ, start_response):
        raise AssertionError("the webhook went through Django's stack")

    # as Django's test client does: the test's transaction must not be closed by the request signals
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        payload = b"".join(AlarmWebhookFastPath(django)(environ, start_response))
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)
    return answer["status"], json.loads(payload)


def test_the_fast_path_answers_exactly_as_the_django_view(client, vendor):
    ts = str(int(time.time()))
    # (body for an event id, media type, vendor, signed right); each sent once by each path, with its own event ids
    cases = [
        (lambda eid: json.dumps(event(eid)), "application/json", "acme", True),  # accepted
        (lambda eid: json.dumps(event("again")), "application/json", "acme", True),  # a duplicate the second time
        (lambda eid: json.dumps(event(eid)), "application/json", "acme", False),  # bad signature
        (lambda eid: json.dumps(event(eid)), "text/plain", "acme", True),  # not declared JSON
        (lambda eid: json.dumps(event(eid)), "application/json", "nobody", True),  # unknown vendor
        (lambda eid: "{not json", "application/json", "acme", True),
        (lambda eid: json.dumps(event(eid, device="D9")), "application/json", "acme", True),  # unknown device
    ]
    answers = {"fast": [], "django": []}
    for path in ("fast", "django"):
        for i, (make, media_type, slug, signed) in enumerate(cases):
            body = make(f"{path}-{i}").encode()
            sig = signature("s3cret", ts, body) if signed else "sha256=00"
            headers = {"HTTP_X_ALARM_TIMESTAMP": ts, "HTTP_X_ALARM_SIGNATURE": sig}
            if path == "fast":
                answers[path].append(_fast_path(body, content_type=media_type, vendor=slug, **headers))
            else:
                r = client.post(f"/api/alarms/webhook/{slug}/", body, content_type=media_type, **headers)
                answers[path].append((r.status_code, r.json()))
    # the first path stored "again"; the second path's "again" is then a duplicate: the one expected difference
    assert answers["fast"][1] == (200, {"accepted": 1, "duplicates": 0})
    assert answers["django"][1] == (200, {"accepted": 0, "duplicates": 1})
    answers["fast"][1] = answers["django"][1]
    assert answers["fast"] == answers["django"]
    assert [status for status, _ in answers["fast"]] == [200, 200, 401, 415, 404, 400, 422]
    assert AlarmEvent.objects.filter(vendor_event_id__in=["fast-0", "django-0", "again"]).count() == 3


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("kind", ["fault", "fire"])
def test_the_fast_path_serves_a_request_again_when_its_connection_died(vendor, kind):
    """No health check before each request: a connection a database restart left dead fails its first statement and
    the request is served once more on a new one; the vendor gets its answer, the event is stored once."""
    from django.db import connection

    connection.ensure_connection()
    connection.connection.close()  # what a restart leaves behind: Django still holds the connection
    body = json.dumps(event("after-restart", kind=kind)).encode()
    ts = str(int(time.time()))
    headers = {"HTTP_X_ALARM_TIMESTAMP": ts, "HTTP_X_ALARM_SIGNATURE": signature("s3cret", ts, body)}
    assert _fast_path(body, **headers) == (200, {"accepted": 1, "duplicates": 0})
    assert _fast_path(body, **headers) == (200, {"accepted": 0, "duplicates": 1})
    assert AlarmEvent.objects.filter(vendor_event_id="after-restart").count() == 1
    assert Notification.objects.filter(dedupe_key__startswith="alarm:").count() == (0 if kind == "fault" else 3)


def _deliveries(prefix: str, ts: str) -> list:
    """One request of each kind a vendor may send, with event ids of their own (prefix)."""
    from gis_app.alarms.webhook import Delivery

    def make(events, *, slug="acme", media_type="application/json", signed=True, raw=None):
        body = raw if raw is not None else json.dumps(events).encode()
        sig = signature("s3cret", ts, body) if signed else "sha256=00"
        headers = {"X-Alarm-Timestamp": ts, "X-Alarm-Signature": sig}
        return Delivery(slug, headers, media_type, str(len(body)), body)

    return [
        make(event(f"{prefix}-fault", kind="fault")),
        make({"events": [event(f"{prefix}-dup", kind="test"), event(f"{prefix}-dup", kind="test")]}),
        make(event(f"{prefix}-dup", kind="test")),  # the same event as the request before: a duplicate
        make(event(f"{prefix}-fire", device="D2")),  # a fire alarm: stored with its notices
        make(event(f"{prefix}-unsigned", kind="fault"), signed=False),
        make(event(f"{prefix}-text", kind="fault"), media_type="text/plain"),
        make(event(f"{prefix}-nobody", kind="fault"), slug="nobody"),
        make(None, raw=b"{not json"),
        make(event(f"{prefix}-D9", device="D9", kind="fault")),  # unknown device
        make(event(f"{prefix}-\u0000", kind="fault")),  # PostgreSQL cannot store a NUL
        make(event(f"{prefix}-nul-device", device="D\u0000", kind="fault")),
        make(event(f"{prefix}-\ud800", kind="fault")),  # an unpaired surrogate, as JSON allows
        make(event(f"{prefix}-recovery", device="D2", kind="recovery")),
    ]


def test_requests_stored_together_get_each_the_answer_it_gets_alone(vendor, monkeypatch):
    """The fast path stores the requests that arrive together (webhook.receive_many): their vendors and devices in one
    round trip, the events without a fire alarm in one statement, and yet every request is answered as if alone,
    including its errors, and stores nothing of itself when refused."""
    from gis_app.alarms import webhook
    from gis_app.lib import prepared

    ts = str(int(time.time()))
    webhook.REMEMBERED.forget(["acme"])
    alone = [webhook.receive_many([d])[0] for d in _deliveries("alone", ts)]
    statements = []
    run = prepared.fetchall
    monkeypatch.setattr(prepared, "fetchall", lambda sql, params: statements.append(sql) or run(sql, params))
    together = webhook.receive_many(_deliveries("together", ts))
    assert together == alone
    assert [status for status, _ in together] == [200, 200, 200, 200, 401, 415, 404, 400, 422, 400, 422, 400, 200]
    assert together[1][1] == {"accepted": 1, "duplicates": 1} and together[2][1] == {"accepted": 0, "duplicates": 1}
    assert (
        "NUL" in together[9][1]["errors"]["0.event_id"] and "unknown device" in together[10][1]["errors"]["0.device_id"]
    )
    assert len(statements) == 2  # vendors and devices, then the events of the four requests without a fire alarm
    stored = set(
        AlarmEvent.objects.filter(vendor_event_id__startswith="together").values_list("vendor_event_id", flat=True)
    )
    assert stored == {"together-fault", "together-dup", "together-fire", "together-recovery"}
    assert Notification.objects.filter(
        dedupe_key=f"alarm:{AlarmEvent.objects.get(vendor_event_id='together-fire').pk}"
    ).exists()


def test_group_commit_serves_the_requests_that_arrive_while_a_batch_is_stored_in_the_next():
    """Threads as the web server's: the first request is stored at once; those arriving meanwhile wait and are stored
    together in one batch led by the first of them; each gets its own answer. A batch that raises answers its own
    requests with an error and the next batch is still served."""
    import threading

    from gis_app.alarms.fast import GroupCommit

    batches, first_in, release = [], threading.Event(), threading.Event()

    def handle_many(items):
        batches.append(list(items))
        if len(batches) == 1:
            first_in.set()
            release.wait(10)
        if "boom" in items:
            raise RuntimeError("a bug")
        return [(200, {"echo": item}, []) for item in items]

    group = GroupCommit(handle_many)
    answers = {}

    def submit(item):
        answers[item] = group.submit(item)

    threads = [threading.Thread(target=submit, args=("first",))]
    threads[0].start()
    assert first_in.wait(10)
    for item in ("a", "b", "c"):
        threads.append(threading.Thread(target=submit, args=(item,)))
        threads[-1].start()
    while len(group.waiting) < 3:
        time.sleep(0.01)
    release.set()
    for t in threads:
        t.join(10)
    assert batches == [["first"], ["a", "b", "c"]]
    assert answers == {item: (200, {"echo": item}, []) for item in ("first", "a", "b", "c")}
    assert group.submit("boom")[0] == 500 and not group.busy
    assert group.submit("after") == (200, {"echo": "after"}, [])


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("prepare", [True, False])
def test_the_webhook_statements_run_prepared_unless_configured_off(vendor, settings, prepare):
    """Prepared, PostgreSQL does not plan the webhook's statements for every request; behind a pooler that cannot keep
    prepared statements, DATABASE_PREPARED_STATEMENTS=false sends them as text and the webhook works the same."""
    from django.db import connection

    settings.DATABASE_PREPARED_STATEMENTS = prepare
    connection.close()  # a new connection: none prepared yet
    ts = str(int(time.time()))
    for i in range(3):
        body = json.dumps(event(f"p{i}", kind="fault")).encode()
        headers = {"HTTP_X_ALARM_TIMESTAMP": ts, "HTTP_X_ALARM_SIGNATURE": signature("s3cret", ts, body)}
        assert _fast_path(body, **headers) == (200, {"accepted": 1, "duplicates": 0})
    with connection.cursor() as cur:
        cur.execute("SELECT statement FROM pg_prepared_statements")
        statements = [row[0] for row in cur.fetchall()]
    # the lookup and the insert for the first request; the checked insert for the next (their devices remembered)
    assert len(statements) == (3 if prepare else 0)
    assert not prepare or sum("INSERT INTO alarms_alarmevent" in s for s in statements) == 2


def test_remembered_vendors_and_devices_save_a_round_trip_and_every_change_takes_effect_at_once(
    vendor, world, monkeypatch
):
    """A web process remembers the vendors and devices it looked up, to store a batch in one statement instead of
    two; that statement checks them against the tables, so a vendor deactivated, a secret changed, a device moved or
    removed (in another process, by the admin) is honoured by the very next request."""
    from gis_app.alarms import webhook
    from gis_app.lib import prepared

    statements = []
    run = prepared.fetchall
    monkeypatch.setattr(prepared, "fetchall", lambda sql, params: statements.append(sql) or run(sql, params))
    webhook.REMEMBERED.forget(["acme"])
    counter = iter(range(100))

    def send(*, device="D1", secret="s3cret"):
        statements.clear()
        body = json.dumps(event(f"r{next(counter)}", device=device, kind="fault")).encode()
        ts = str(int(time.time()))
        headers = {"X-Alarm-Timestamp": ts, "X-Alarm-Signature": signature(secret, ts, body)}
        return webhook.receive_many([webhook.Delivery("acme", headers, "application/json", str(len(body)), body)])[0]

    assert send() == (200, {"accepted": 1, "duplicates": 0}) and len(statements) == 2  # looked up, then stored
    assert send() == (200, {"accepted": 1, "duplicates": 0}) and len(statements) == 1  # remembered: stored at once
    Vendor.objects.filter(pk=vendor.pk).update(active=False)
    assert send()[0] == 404 and len(statements) == 2  # the checked insert stored nothing; the lookup decided
    Vendor.objects.filter(pk=vendor.pk).update(active=True)
    assert send()[0] == 200
    Vendor.objects.filter(pk=vendor.pk).update(secret="rotated")
    assert send()[0] == 401  # signed with the old secret, which this process remembered
    assert send(secret="rotated")[0] == 200
    assert send(secret="rotated") == (200, {"accepted": 1, "duplicates": 0}) and len(statements) == 1
    Device.objects.filter(vendor=vendor, vendor_device_id="D1").update(care_home=world["home_b"])
    assert send(secret="rotated")[0] == 200 and len(statements) == 1  # still its device: the home read as it is now
    assert AlarmEvent.objects.latest("id").care_home == world["home_b"]
    spare = Device.objects.create(vendor=vendor, vendor_device_id="D3", care_home=world["home_a"], kind="smoke_alarm")
    assert send(device="D3", secret="rotated")[0] == 200
    AlarmEvent.objects.filter(device=spare).delete()  # events protect their device
    spare.delete()
    before = AlarmEvent.objects.count()
    answer = send(device="D3", secret="rotated")
    assert answer[0] == 422 and "unknown device" in answer[1]["errors"]["0.device_id"]
    assert AlarmEvent.objects.count() == before
    assert AlarmEvent.objects.filter(vendor_event_id__startswith="r").count() == 6  # the 200s, less the one removed
