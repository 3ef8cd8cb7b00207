"""Real Chromium (Debian's /usr/bin/chromium) driven by Playwright; never fetches anything off this machine."""

import os
import shutil
from urllib.parse import urlparse

import pytest

CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]  # fmt: skip


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def page(browser, live_server, django_db_blocker):
    """A fresh page; any request that leaves 127.0.0.1 is blocked and recorded in page.external_requests."""
    context = browser.new_context(viewport={"width": 1280, "height": 860}, locale="zh-CN")
    yield guarded_page(context, urlparse(live_server.url).hostname)
    close(context, django_db_blocker)


def close(context, django_db_blocker, wait_seconds: float = 15.0) -> None:
    """Closes the browser, then waits until the web server has finished the requests it had in hand: closing the
    page does not stop them, and a transactional test's flush (TRUNCATE of every table) racing a page's query that
    joins two tables is a deadlock PostgreSQL may settle by cancelling the flush."""
    import time

    from django.db import connection

    context.close()
    deadline = time.monotonic() + wait_seconds
    while time.monotonic() < deadline:
        with django_db_blocker.unblock(), connection.cursor() as cur:
            cur.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
                " AND backend_type = 'client backend' AND state = 'active'"
            )
            if cur.fetchone()[0] == 0:
                return
        time.sleep(0.05)


def login(page, live_server, username: str, password: str = "demo12345") -> None:
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    with page.expect_navigation():
        page.click("button[type=submit]")
    assert "/accounts/login/" not in page.url, "login failed"


def guarded_page(context, host: str):
    """A page of `context` whose requests off this machine are blocked and recorded (as `page` does)."""
    pg = context.new_page()
    pg.external_requests, pg.errors = [], []

    def guard(route):
        url = route.request.url
        if urlparse(url).hostname in (host, "localhost", "127.0.0.1") or url.startswith("data:"):
            route.continue_()
        else:
            pg.external_requests.append(url)
            route.abort()

    pg.route("**/*", guard)
    pg.on("pageerror", lambda e: pg.errors.append(str(e)))
    return pg


@pytest.fixture
def tablet(browser, live_server, django_db_blocker):
    """A 1024×768 tablet with a touch screen (taps, not clicks)."""
    context = browser.new_context(viewport={"width": 1024, "height": 768}, has_touch=True, locale="zh-CN")
    yield guarded_page(context, urlparse(live_server.url).hostname)
    close(context, django_db_blocker)


@pytest.fixture
def phone(browser, live_server, django_db_blocker):
    """A 390×844 phone with a touch screen."""
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, has_touch=True, is_mobile=True, locale="zh-CN"
    )
    yield guarded_page(context, urlparse(live_server.url).hostname)
    close(context, django_db_blocker)


class Steps:
    """What a person does, counted: each click or tap, each field typed into, each option chosen, each file picked.
    Scrolling and waiting are not counted; logging in is not part of a task."""

    def __init__(self, page, *, touch: bool = False):
        self.page, self.touch, self.count, self.log = page, touch, 0, []

    def _did(self, what: str) -> None:
        self.count += 1
        self.log.append(what)

    def _at(self, target):
        return self.page.locator(target) if isinstance(target, str) else target

    def click(self, target) -> None:
        locator = self._at(target)
        locator.tap() if self.touch else locator.click()
        self._did(f"{'tap' if self.touch else 'click'} {target}")

    def go(self, target) -> None:
        """A click or tap that opens another page."""
        with self.page.expect_navigation():
            self.click(target)

    def fill(self, target, text: str) -> None:
        self._at(target).fill(text)
        self._did(f"type {target}")

    def choose(self, target, **option) -> None:
        self._at(target).select_option(**option)
        self._did(f"choose {target}")

    def pick_file(self, target, path) -> None:
        self._at(target).set_input_files(str(path))
        self._did(f"pick file {target}")

    def point(self, x: float, y: float) -> None:
        """A click or tap on the map at viewport coordinates."""
        self.page.touchscreen.tap(x, y) if self.touch else self.page.mouse.click(x, y)
        self._did(f"point {x:.0f},{y:.0f}")

    def download(self, target):
        with self.page.expect_download() as info:
            self.click(target)
        return info.value
