"""The shape a bureau deploys, tried from outside: two web servers (as on two machines) on one database, the
supervisor of `make run`, and the settings `check --deploy` judges."""

import os
import signal
import subprocess
import sys
import time
import urllib.request
from http.cookiejar import CookieJar
from pathlib import Path
from urllib.parse import urlencode

import pytest

from gis_app.hazards.models import Hazard
from gis_app.lib import clock

from .conftest import ensure_demo
from .server import WebServer

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.django_db(transaction=True)


class Browser:
    """A cookie-keeping HTTP client that can talk to any of the servers."""

    def __init__(self):
        self.jar = CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))

    def get(self, url: str):
        try:
            with self.opener.open(url, timeout=30) as r:
                return r.status, r.geturl(), r.read()
        except urllib.error.HTTPError as e:
            return e.code, url, e.read()

    def csrf(self) -> str:
        return next(c.value for c in self.jar if c.name == "csrftoken")

    def post(self, url: str, data: dict, referer: str):
        body = urlencode({**data, "csrfmiddlewaretoken": self.csrf()}).encode()
        request = urllib.request.Request(url, data=body, headers={"Referer": referer})
        try:
            with self.opener.open(request, timeout=30) as r:
                return r.status, r.geturl(), r.read()
        except urllib.error.HTTPError as e:
            return e.code, url, e.read()

    def login(self, server, username: str, password: str = "demo12345") -> None:
        self.get(f"{server.url}/accounts/login/")
        status, final, _ = self.post(
            f"{server.url}/accounts/login/",
            {"username": username, "password": password},
            referer=f"{server.url}/accounts/login/",
        )
        assert "/accounts/login/" not in final, "login failed"


@pytest.fixture
def second_server(live_server):
    server = WebServer(workers=2, media_root=live_server.media_root).start()
    yield server
    server.stop()


def test_a_logout_on_one_server_is_honoured_by_the_other(live_server, second_server):
    ensure_demo()
    b = Browser()
    b.login(live_server, "bureau")
    # The same session cookie works on the other machine (cookies are per host name, not per port).
    status, final, _ = b.get(f"{second_server.url}/hazards/")
    assert status == 200 and "/accounts/login/" not in final
    tile = f"{second_server.url}/tiles/hazard/14/13700/6200.pbf"
    assert {b.get(tile)[0] for _ in range(6)} == {200}
    assert any(c.name == "tiles" for c in b.jar)  # a tile ticket, bound to this session
    b.post(f"{live_server.url}/accounts/logout/", {}, referer=f"{live_server.url}/hazards/")
    for _ in range(6):  # whichever worker process of the second server answers
        status, final, _ = b.get(f"{second_server.url}/hazards/")
        assert "/accounts/login/" in final
        assert b.get(tile)[0] == 401  # the ticket is kept, but the session it was bound to is gone


def test_a_change_written_outside_the_web_processes_is_served_fresh_in_tiles(live_server, second_server):
    ensure_demo()
    from gis_app.carehomes.models import CareHome

    b = Browser()
    b.login(live_server, "bureau")
    home = CareHome.objects.order_by("pk").first()
    z = 16
    import math

    lon, lat = home.location.x, home.location.y
    x = int((lon + 180) / 360 * 2**z)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * 2**z)
    tile = f"/tiles/hazard/{z}/{x}/{y}.pbf"
    before = [b.get(s.url + tile)[2] for s in (live_server, second_server) for _ in range(3)]
    # What the job worker does during a QField import: a write in another process, not through any web request.
    Hazard.objects.create(
        care_home=home,
        description="瓦片新鲜度测试",
        location=home.location,
        found_on=clock.today(),
        due_on=clock.today(),
    )
    after = [b.get(s.url + tile)[2] for s in (live_server, second_server) for _ in range(3)]
    import mapbox_vector_tile

    assert all(len(mapbox_vector_tile.decode(t).get("hazard", {}).get("features", [])) == 0 for t in before)
    assert all(len(mapbox_vector_tile.decode(t)["hazard"]["features"]) == 1 for t in after)


def test_an_anonymous_error_shows_the_chinese_page_and_nothing_of_the_settings(live_server):
    status, _, body = Browser().get(f"{live_server.url}/__test__/raise/")
    text = body.decode()
    assert status == 500 and "服务器内部错误" in text
    for secret in ("DATABASE_URL", "Traceback", "SECRET_KEY", "postgres://"):
        assert secret not in text


def test_a_killed_web_worker_is_replaced_and_pages_answer_again(live_server):
    ensure_demo()
    pids = live_server.worker_pids()
    assert len(pids) >= 2
    os.kill(pids[0], signal.SIGKILL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        now = live_server.worker_pids()
        if len(now) == len(pids) and pids[0] not in now:
            break
        time.sleep(0.2)
    assert pids[0] not in live_server.worker_pids() and len(live_server.worker_pids()) == len(pids)
    statuses = {Browser().get(f"{live_server.url}/healthz")[0] for _ in range(6)}
    assert statuses == {200}


def test_the_supervisor_restarts_a_program_that_exits_and_stops_all_on_sigterm(tmp_path):
    counter = tmp_path / "starts"
    flaky = f"{sys.executable} -c \"open('{counter}', 'a').write('x')\""  # exits at once, every time
    steady = f"{sys.executable} -c 'import time; time.sleep(600)'"
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "scripts" / "supervise.py"), f"flaky={flaky}", f"steady={steady}"],
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and (not counter.exists() or len(counter.read_text()) < 3):
        time.sleep(0.2)
    assert len(counter.read_text()) >= 3  # restarted after each exit, with back-off
    children = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True).stdout.split()
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=20) == 0
    for pid in children:
        assert not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text().lower()
    assert "restarting" in proc.stderr.read()


def _check_deploy(**env) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    base.update(env, DJANGO_SETTINGS_MODULE="gis_app.settings")
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=base,
        capture_output=True,
        text=True,
    )


def test_production_settings_pass_check_deploy_with_no_warning():
    result = _check_deploy(
        DJANGO_DEBUG="false", DJANGO_SECRET_KEY="k" * 20 + "-Zq8#x" * 10, DJANGO_ALLOWED_HOSTS="fire.example.gov.cn"
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_the_plain_http_opt_out_is_named_by_check_deploy():
    result = _check_deploy(
        DJANGO_DEBUG="false",
        DJANGO_SECRET_KEY="k" * 20 + "-Zq8#x" * 10,
        DJANGO_ALLOWED_HOSTS="intranet",
        DJANGO_INSECURE_HTTP="true",
    )
    assert result.returncode != 0 and "gis_app.W001" in result.stderr + result.stdout


def test_debug_is_off_unless_asked_for_and_a_secret_is_generated_once(tmp_path):
    code = "from django.conf import settings; print(settings.DEBUG, len(settings.SECRET_KEY))"
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    env["DJANGO_SETTINGS_MODULE"] = "gis_app.settings"
    out = subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); " + code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert out[0] == "False" and int(out[1]) >= 50
    key_file = ROOT / ".data" / "secret_key"
    assert key_file.exists() and oct(key_file.stat().st_mode)[-3:] == "600"
