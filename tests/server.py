"""The platform served for tests the way `make run` serves it: granian (gis_app.web) with several worker processes,
DEBUG off, static files by whitenoise, on the test database. Tests talk to it over real HTTP from outside its processes, so
whatever must agree across processes (sessions, tile versions, caches) is proven to."""

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from django.conf import settings
from django.db import connection
from django.test import override_settings

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def database_url() -> str:
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def platform_environment(database: str, media_root: Path) -> dict:
    """What the platform's processes (web servers, job workers) get, as `make run` gives them, on the test database."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "DJANGO_LIVE"))}
    env.update(
        DJANGO_SETTINGS_MODULE="tests.settings",
        DATABASE_URL=database,
        DJANGO_DEBUG="false",
        DJANGO_INSECURE_HTTP="true",
        MEDIA_ROOT=str(media_root),
    )
    return env


class JobWorker:
    """`manage.py run_worker` as `make run` supervises it, with a short poll and stale time so faults show quickly."""

    def __init__(self, database: str, media_root: Path):
        self.database, self.media_root = database, media_root
        self.log = Path(tempfile.mkstemp(prefix="worker-", suffix=".log")[1])
        self.proc: subprocess.Popen | None = None

    def start(self) -> "JobWorker":
        env = platform_environment(self.database, self.media_root)
        env.update(JOB_WORKER_POLL_SECONDS="1", JOB_HEARTBEAT_SECONDS="1", JOB_STALE_AFTER_SECONDS="8")
        argv = [sys.executable, "manage.py", "run_worker"]
        self.proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=self.log.open("ab"), stderr=subprocess.STDOUT)
        return self

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()


class WebServer:
    def __init__(self, *, workers: int = 2, media_root: Path | None = None, database: str | None = None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.media_root = media_root or Path(tempfile.mkdtemp(prefix="gis_app-media-"))
        self.log = Path(tempfile.mkstemp(prefix="web-", suffix=".log")[1])
        self.workers = workers
        self.database = database
        self.proc: subprocess.Popen | None = None
        # pytest-django's live-server helper enables and disables this around each test.
        self._live_server_modified_settings = override_settings()

    def environment(self) -> dict:
        env = platform_environment(self.database or database_url(), self.media_root)
        env.update(WEB_WORKERS=str(self.workers))
        return env

    def start(self) -> "WebServer":
        argv = [sys.executable, "-m", "gis_app.web", "--host", "127.0.0.1", "--port", str(self.port)]
        self.proc = subprocess.Popen(
            argv, cwd=ROOT, env=self.environment(), stdout=self.log.open("ab"), stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"the web server exited with {self.proc.returncode}:\n{self.log.read_text()[-3000:]}"
                )
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=2) as r:
                    if r.status == 200:
                        return self
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"the web server did not answer within 60 s:\n{self.log.read_text()[-3000:]}")

    def worker_pids(self) -> list[int]:
        out = subprocess.run(["pgrep", "-P", str(self.proc.pid)], capture_output=True, text=True).stdout
        return [int(p) for p in out.split()]

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()

    def __str__(self) -> str:
        return self.url


def collect_static() -> None:
    """What `make run` does before serving: whitenoise serves STATIC_ROOT."""
    from django.core.management import call_command

    root = Path(settings.STATIC_ROOT)
    sources = [p for d in ROOT.glob("*/static") for p in d.rglob("*") if p.is_file()]
    sources += [p for d in ROOT.glob("*/*/static") for p in d.rglob("*") if p.is_file()]
    stamp = root / ".collected"
    newest = max((p.stat().st_mtime for p in sources), default=0)
    if not stamp.exists() or stamp.stat().st_mtime < newest or os.environ.get("CI"):
        call_command("collectstatic", interactive=False, verbosity=0)
        stamp.touch()


def runtime_database_url(role: str = "gis_web") -> str:
    """The test database as the platform's runtime role sees it (rows, not tables), as `make run` serves."""
    from gis_app.ops.roles import ensure_runtime_role

    ensure_runtime_role(role)
    db = connection.settings_dict
    return f"postgres://{role}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
