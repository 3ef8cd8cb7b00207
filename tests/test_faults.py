"""Beyond one process and through faults (#14): two web servers (as on two machines) and two job workers on one
database; then PostgreSQL restarted under load. Afterwards every alarm a server acknowledged is stored exactly once,
every job ran no more often than its attempts and finished (or failed with a reason), and the pages answer again
without anyone restarting anything."""

import json
import os
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.db import connections
from django.test import Client
from django.utils import timezone

from gis_app.alarms.models import AlarmEvent, Device, Vendor
from gis_app.alarms.services import signature
from gis_app.carehomes.models import CareHome
from gis_app.jobs.models import Job, JobStatus
from gis_app.jobs.services import enqueue

from .conftest import ensure_demo
from .server import JobWorker, WebServer, runtime_database_url

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def second_server(live_server):
    server = WebServer(workers=2, media_root=live_server.media_root, database=runtime_database_url()).start()
    yield server
    server.stop()


@pytest.fixture
def workers(live_server):
    started = [JobWorker(runtime_database_url(), live_server.media_root).start() for _ in range(2)]
    yield started
    for worker in started:
        worker.stop()


def _vendor() -> list[str]:
    ensure_demo()
    vendor = Vendor.objects.create(slug="fault", name="故障测试", secret="fault-secret")
    homes = list(CareHome.objects.order_by("pk")[:10])
    devices = [f"F{i}" for i in range(10)]
    Device.objects.bulk_create(
        [
            Device(vendor=vendor, vendor_device_id=d, care_home=h, kind="smoke_alarm")
            for d, h in zip(devices, homes, strict=True)
        ]
    )
    return devices


def _post(base: str, event_id: str, device: str) -> tuple[int, dict]:
    """One event, signed, as a vendor platform posts it; (status, body) or (0, {}) when the connection failed."""
    raw = json.dumps(
        {"event_id": event_id, "device_id": device, "kind": "fault", "occurred_at": timezone.now().isoformat()}
    ).encode()
    ts = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "X-Alarm-Timestamp": ts,
        "X-Alarm-Signature": signature("fault-secret", ts, raw),
    }
    request = urllib.request.Request(f"{base}/api/alarms/webhook/fault/", data=raw, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=15) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, {}
    except OSError:
        return 0, {}


def _wait_for_jobs(ids: list[int], seconds: float) -> list[dict]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        rows = list(
            Job.objects.filter(pk__in=ids).values("pk", "status", "attempts", "max_attempts", "error", "result")
        )
        if all(r["status"] in (JobStatus.SUCCEEDED, JobStatus.FAILED) for r in rows):
            return rows
        time.sleep(0.3)
    return list(Job.objects.filter(pk__in=ids).values("pk", "status", "attempts", "max_attempts", "error", "result"))


def test_two_servers_and_two_workers_share_one_database(live_server, second_server, workers):
    devices = _vendor()
    servers = (live_server.url, second_server.url)
    # each event sent to both servers at once: stored once, acknowledged by both
    sends = [(base, f"both-{i}", devices[i % 10]) for i in range(120) for base in servers]
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda args: _post(*args), sends))
    assert {status for status, _ in answers} == {200}
    assert sum(body["accepted"] for _, body in answers) == 120
    assert sum(body["duplicates"] for _, body in answers) == 120
    assert AlarmEvent.objects.filter(vendor__slug="fault").count() == 120
    # jobs: each claimed by exactly one of the two workers, once
    ids = [enqueue(kind="ops.probe", title="两个工作进程", params={"seconds": 0.2}).pk for _ in range(24)]
    rows = _wait_for_jobs(ids, 90)
    assert [r["status"] for r in rows] == [JobStatus.SUCCEEDED] * 24
    assert {r["attempts"] for r in rows} == {1}
    pids = {f":{w.proc.pid}" for w in workers}
    seen = {r["result"]["worker"][r["result"]["worker"].rindex(":") :] for r in rows}
    assert seen == pids  # both workers took jobs, and nobody else


def _wait_running(pk: int, seconds: float = 30) -> Job:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        job = Job.objects.get(pk=pk)
        if job.status == JobStatus.RUNNING and job.message.startswith("运行于"):
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {pk} not taken by a worker within {seconds} s")


def test_a_job_worker_killed_mid_job_leaves_its_job_to_another_and_a_long_job_is_not_taken_for_dead(workers):
    """The workers here are silent-after 8 s: a 12 s job on a living worker keeps its heartbeat and runs once; a job
    whose worker is killed (SIGKILL: no goodbye) runs again on the other, once."""
    long = enqueue(kind="ops.probe", title="长任务", params={"seconds": 12})
    first = _wait_running(long.pk)
    victim = enqueue(kind="ops.probe", title="被中断的任务", params={"seconds": 20})
    held = _wait_running(victim.pk)
    killed = int(held.message.rsplit(":", 1)[1])
    assert killed != int(first.message.rsplit(":", 1)[1]) and killed in {w.proc.pid for w in workers}
    os.kill(killed, signal.SIGKILL)
    rows = {r["pk"]: r for r in _wait_for_jobs([long.pk, victim.pk], 150)}
    assert rows[long.pk]["status"] == JobStatus.SUCCEEDED and rows[long.pk]["attempts"] == 1, rows[long.pk]
    assert rows[victim.pk]["status"] == JobStatus.SUCCEEDED and rows[victim.pk]["attempts"] == 2, rows[victim.pk]
    survivor = next(w.proc.pid for w in workers if w.proc.pid != killed)
    assert rows[victim.pk]["result"]["worker"].endswith(f":{survivor}")


def test_postgresql_restarted_under_load_loses_nothing_and_everything_comes_back(live_server, workers):
    if not (ROOT / ".data" / "pg" / "PG_VERSION").exists():
        pytest.skip("PostgreSQL is not the project's own cluster here (DATABASE_URL): it cannot be restarted")
    devices = _vendor()
    acked: set[str] = set()
    failures = {"requests": 0}
    browser = Client()
    browser.force_login(get_user_model().objects.get(username="bureau"))
    cookie = f"sessionid={browser.cookies['sessionid'].value}"
    stop = threading.Event()

    def vendor_platform(n: int) -> None:
        """Posts events one by one and, as vendors do, sends an event again until it is acknowledged."""
        i = 0
        while not stop.is_set():
            event_id = f"restart-{n}-{i}"
            while not stop.is_set():
                status, body = _post(live_server.url, event_id, devices[i % 10])
                if status == 200 and body["accepted"] + body["duplicates"] == 1:
                    acked.add(event_id)
                    break
                failures["requests"] += 1
                time.sleep(0.1)
            i += 1

    senders = [threading.Thread(target=vendor_platform, args=(n,)) for n in range(3)]
    for t in senders:
        t.start()
    time.sleep(1)
    jobs = [enqueue(kind="ops.probe", title="数据库重启", params={"seconds": 3}).pk for _ in range(8)]
    # the restart must catch jobs in hand: wait until the workers hold some (a loaded machine can take a while)
    deadline = time.monotonic() + 30
    while not Job.objects.filter(pk__in=jobs, status=JobStatus.RUNNING).exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert Job.objects.filter(pk__in=jobs, status=JobStatus.RUNNING).exists(), "no worker took a job within 30 s"
    before = len(acked)
    subprocess.run(["bash", "scripts/setup.sh", "restart"], cwd=ROOT, check=True, timeout=120)
    connections.close_all()  # this process's own connections died with the server
    restarted = time.monotonic()
    while len(acked) < before + 30 and time.monotonic() - restarted < 60:
        time.sleep(0.2)
    stop.set()
    for t in senders:
        t.join(timeout=30)
    assert len(acked) >= before + 30, "alarms are not taken again after the restart"
    stored = list(AlarmEvent.objects.filter(vendor__slug="fault").values_list("vendor_event_id", flat=True))
    assert len(stored) == len(set(stored))  # never twice
    assert acked <= set(stored)  # every acknowledged event is there
    rows = _wait_for_jobs(jobs, 120)
    for r in rows:
        assert r["status"] in (JobStatus.SUCCEEDED, JobStatus.FAILED), r
        assert r["attempts"] <= r["max_attempts"], r
        assert r["status"] == JobStatus.SUCCEEDED or r["error"], r
    assert max(r["attempts"] for r in rows) >= 2, "the jobs running at the restart were not run again"
    assert all(w.proc.poll() is None for w in workers), "a worker died with the database"
    # a signed-in map keeps drawing: every web process answers tiles again (session, user and tile from PostgreSQL)
    tile = urllib.request.Request(f"{live_server.url}/tiles/hazard/14/13700/6200.pbf", headers={"Cookie": cookie})
    assert {urllib.request.urlopen(tile, timeout=10).status for _ in range(9)} == {200}
    assert {urllib.request.urlopen(f"{live_server.url}/healthz", timeout=10).status for _ in range(6)} == {200}
    attempts = sorted(r["attempts"] for r in rows)
    print(
        f"\nrestart: {len(acked)} events acknowledged ({failures['requests']} refused or failed during the restart); "
        f"job attempts {attempts}"
    )
