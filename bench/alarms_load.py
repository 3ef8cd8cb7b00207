"""IoT alarm ingestion under load: signed webhook requests from a load generator on loopback to the web server (as
`make run` starts it), for a fixed time, with 10 % of the events sent twice; a web worker is killed and PostgreSQL
restarted mid-run. Afterwards: every acknowledged event is stored exactly once. BENCH_ALARM_BATCH=1 measures one event
per request."""

import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

DURATION = 12.0
THREADS = int(os.environ.get("BENCH_ALARM_THREADS", 8))
BATCH = int(os.environ.get("BENCH_ALARM_BATCH", 10))  # vendor platforms post events in small batches
ROOT = Path(__file__).resolve().parent.parent


def machine_busy() -> float:
    """CPU seconds the machine spent busy since boot (all cores; /proc/stat)."""
    with open("/proc/stat") as f:
        ticks = [int(x) for x in f.readline().split()[1:]]
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def setup(devices: int = 1000) -> list[str]:
    from gis_app.alarms.models import Device, Vendor
    from gis_app.carehomes.demo import load_demo
    from gis_app.carehomes.models import CareHome

    load_demo(ledger=False, layers=False)
    vendor = Vendor.objects.create(slug="load", name="load", secret="load-secret")
    homes = list(CareHome.objects.all())
    Device.objects.bulk_create([Device(vendor=vendor, vendor_device_id=f"L{i}", care_home=homes[i % len(homes)], kind="smoke_alarm")
                                for i in range(devices)])  # fmt: skip
    return [f"L{i}" for i in range(devices)]


def read_response(sock: socket.socket, buffered: bytes) -> tuple[int, bytes, bool]:
    """One HTTP/1.1 response from a kept-alive connection: (status, bytes already read of the next one, keep the
    connection). The load generator shares the cores with the server: http.client's parsing in Python cost it about
    as much CPU per request as the server's handling of one event."""
    data = buffered
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed before a response")
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    fields = dict(line.split(b":", 1) for line in lines[1:] if b":" in line)
    fields = {k.strip().lower(): v.strip().lower() for k, v in fields.items()}
    length = int(fields.get(b"content-length", b"0"))
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed within a response")
        rest += chunk
    return status, rest[length:], fields.get(b"connection") != b"close"


def run() -> list[list]:
    from django.db import connection

    from gis_app.alarms.models import AlarmEvent
    from gis_app.alarms.services import signature

    device_ids = setup()
    db = connection.settings_dict
    url = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    port = free_port()
    # what `make run` serves: the production settings on plain http (127.0.0.1), the web server as it is shipped
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": "bench-only-secret",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "DJANGO_INSECURE_HTTP": "true",
        "WEB_ACCESS_LOG": "false",
    }
    argv = [sys.executable, "-m", "gis_app.web", "--host", "127.0.0.1", "--port", str(port)]
    server = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.2)
    acked: set[str] = set()
    sent = [0]
    latencies: list[float] = []
    failures = [0]
    lock = threading.Lock()
    stop = time.perf_counter() + DURATION
    counter = iter(range(10**9))

    def worker(n: int):
        rng = random.Random(n)
        sock, pending = None, b""
        while time.perf_counter() < stop:
            events = []
            for _ in range(BATCH):
                eid = f"t{n}-{next(counter)}"
                events.append({"event_id": eid, "device_id": rng.choice(device_ids), "kind": rng.choice(["fault", "test", "recovery"]),
                               "occurred_at": datetime.now(UTC).isoformat()})  # fmt: skip
                if rng.random() < 0.1 and len(events) < BATCH:
                    events.append(dict(events[-1]))  # the same event twice
            body = json.dumps({"events": events}).encode()
            ts = str(int(time.time()))
            request = (
                f"POST /api/alarms/webhook/load/ HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
                f"X-Alarm-Timestamp: {ts}\r\nX-Alarm-Signature: {signature('load-secret', ts, body)}\r\n"
                f"Content-Length: {len(body)}\r\n\r\n"
            ).encode() + body
            t = time.perf_counter()
            try:
                if sock is None:
                    sock, pending = socket.create_connection(("127.0.0.1", port), timeout=10), b""
                sock.sendall(request)
                status, pending, keep = read_response(sock, pending)
                ok = status == 200
                if not keep:
                    sock.close()
                    sock = None
            except OSError:
                ok = False
                if sock is not None:
                    sock.close()
                sock = None
            elapsed = time.perf_counter() - t
            with lock:
                sent[0] += len({e["event_id"] for e in events})
                if ok:
                    latencies.append(elapsed)
                    acked.update(e["event_id"] for e in events)
                else:
                    failures[0] += 1
        if sock is not None:
            sock.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(THREADS)]
    busy0, own0 = machine_busy(), os.times()
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    # Faults during the load: kill one web worker, then restart PostgreSQL (BENCH_ALARM_FAULTS=0: none).
    time.sleep(DURATION / 3)
    faults = os.environ.get("BENCH_ALARM_FAULTS", "1") != "0"
    children = subprocess.run(["pgrep", "-P", str(server.pid)], capture_output=True, text=True).stdout.split()
    if children and faults:
        os.kill(int(children[0]), signal.SIGKILL)
    time.sleep(DURATION / 3)
    pgdata = os.path.realpath(ROOT / ".data" / "pg")
    restarted = False
    if faults and not os.environ.get("DATABASE_URL_EXTERNAL") and os.path.exists(os.path.join(pgdata, "PG_VERSION")):
        cmd = ["/usr/lib/postgresql/15/bin/pg_ctl", "-D", pgdata, "-m", "fast", "-w", "restart", "-o", f"-p {db['PORT']}",
               "-l", os.path.join(pgdata, "server.log")]  # fmt: skip
        if os.getuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        restarted = subprocess.run(cmd, capture_output=True, cwd="/").returncode == 0
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    busy1, own1 = machine_busy(), os.times()
    server.terminate()
    server.wait()
    connection.close()
    stored = set(AlarmEvent.objects.filter(vendor__slug="load").values_list("vendor_event_id", flat=True))
    total_rows = AlarmEvent.objects.filter(vendor__slug="load").count()
    lost = len(acked - stored)
    rate = len(acked) / wall
    p99 = statistics.quantiles(latencies, n=100)[98] * 1000 if len(latencies) > 100 else float("nan")
    p50 = statistics.median(latencies) * 1000 if latencies else float("nan")
    requests = max(1, len(latencies) + failures[0])
    cpu = (busy1 - busy0) / requests * 1000
    generator = (own1.user + own1.system - own0.user - own0.system) / requests * 1000
    return [
        [f"alarm webhook, signed batches of {BATCH}", f"{len(acked):,} events acked in {wall:.1f} s",
         f"{rate:,.0f} events/s; request p50 {p50:.1f} / p99 {p99:.1f} ms; CPU per request {cpu:.2f} ms (load generator {generator:.2f})",
         f"{failures[0]} requests failed during the faults",
         f"stored {len(stored):,} = acked: {'yes' if lost == 0 else f'NO, {lost} lost'}; rows {total_rows:,} (no duplicates: {'yes' if total_rows == len(stored) else 'NO'})",
         f"≥ 1,000/s; worker killed; PostgreSQL restarted: {'yes' if restarted else 'no'}"],
    ]  # fmt: skip
