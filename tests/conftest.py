"""Tests run on a throwaway PostGIS database (test_<name>), created by pytest-django.

The Binhai demo (21 approximate 街镇, 100 demo homes, one account per role) is loaded once into the test database
through the same importers users run; each test then runs inside a transaction that is rolled back.
"""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.gis.geos import LineString, Point, Polygon
from django.core.cache import caches

from gis_app.carehomes.credit_code import check_character
from gis_app.carehomes.demo import load_demo
from gis_app.carehomes.models import CareHome, Profile, Role, SafetyServiceProvider, Subdistrict
from gis_app.inspections.catalogue import load_catalogue
from layers.catalogue import get_layer
from layers.services import save_feature

from .qfieldcloud_standin import StandIn

pytest_plugins = ["tests.browser"]  # the `browser` and `page` fixtures


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    # PBKDF2's deliberate slowness costs ~0.3 s a user; tests create many.
    settings.PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.MD5PasswordHasher",
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    ]


@pytest.fixture(autouse=True)
def job_progress_in_the_test_transaction(settings):
    # Most tests run inside one rolled-back transaction, which a second connection cannot see into.
    # test_jobs.py proves the real second-connection behaviour with a transactional test.
    settings.JOB_PROGRESS_DATABASE = "default"


@pytest.fixture(autouse=True)
def empty_tile_cache():
    """Tiles are kept per process by layer version; a rolled-back test's writes never advance the version, so a tile
    kept by one test could otherwise be served to the next."""
    caches["tiles"].clear()


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        load_demo(ledger=False, layers=False)  # the demo ledger history has its own test
        load_catalogue()


@pytest.fixture(scope="session")
def live_server(django_db_setup, django_db_blocker):
    """Replaces pytest-django's in-process server: the platform under its web server (granian), as `make run` serves it."""
    from .server import WebServer, collect_static, runtime_database_url

    with django_db_blocker.unblock():
        collect_static()
        server = WebServer(database=runtime_database_url()).start()
    yield server
    server.stop()


def make_credit_code(serial: int, prefix: str = "52120116") -> str:
    head = f"{prefix}{serial:09d}"[:17]
    return head + check_character(head)


def ensure_demo() -> None:
    """Transactional tests flush the database afterwards; the next one reloads the reference data it needs."""
    if not Subdistrict.objects.exists():
        load_demo(ledger=False, layers=False)
        load_catalogue()


@pytest.fixture
def tanggu(db) -> Subdistrict:
    ensure_demo()
    return Subdistrict.objects.get(code="120116001")


@pytest.fixture
def hangu(db) -> Subdistrict:
    ensure_demo()
    return Subdistrict.objects.get(code="120116031")


def point_in(subdistrict: Subdistrict) -> Point:
    p = subdistrict.boundary.point_on_surface
    p.srid = 4326
    return p


@pytest.fixture
def make_home(db):
    counter = iter(range(900000, 999999))

    def make(subdistrict: Subdistrict, **fields) -> CareHome:
        serial = next(counter)
        defaults = {
            "name": f"测试养老院{serial}",
            "credit_code": make_credit_code(serial),
            "address": "天津市滨海新区测试路1号",
            "location": point_in(subdistrict),
            "beds": 50,
            "residents": 40,
        }
        return CareHome.objects.create(**{**defaults, **fields})

    return make


@pytest.fixture
def make_user(db):
    def make(username: str, role: str | None, **scope):
        user = get_user_model().objects.create_user(username=username, password="pw-test-12345")
        if role is not None:
            Profile.objects.create(user=user, role=role, **scope)
        return user

    return make


@pytest.fixture
def provider(db) -> SafetyServiceProvider:
    return SafetyServiceProvider.objects.create(name="测试第三方服务机构")


@pytest.fixture
def world(make_home, make_user, tanggu, hangu, provider):
    """Two homes in different 街镇, one of them contracted to a provider, and one user per role."""
    home_a = make_home(tanggu, safety_service=provider)
    home_b = make_home(hangu)
    users = {
        "bureau": make_user("t_bureau", Role.BUREAU),
        "fire_rescue": make_user("t_fire", Role.FIRE_RESCUE),
        "subdistrict": make_user("t_street", Role.SUBDISTRICT, subdistrict=tanggu),
        "care_home": make_user("t_home", Role.CARE_HOME, care_home=home_a),
        "other_home": make_user("t_home_b", Role.CARE_HOME, care_home=home_b),
        "third_party": make_user("t_third", Role.THIRD_PARTY, safety_service=provider),
        "no_role": make_user("t_nobody", None),
    }
    return {"home_a": home_a, "home_b": home_b, "tanggu": tanggu, "hangu": hangu, "users": users}


@pytest.fixture
def clock_at(monkeypatch):
    """Moves the platform's clock: clock_at(date or datetime)."""
    from datetime import date, datetime, time

    from django.utils import timezone

    from gis_app.lib import clock

    def move(when):
        if isinstance(when, date) and not isinstance(when, datetime):
            when = datetime.combine(when, time(10))
        if timezone.is_naive(when):
            when = timezone.make_aware(when)
        monkeypatch.setattr(clock, "_frozen", when)
        return when

    return move


@pytest.fixture
def photo():
    from django.core.files.uploadedfile import SimpleUploadedFile

    from gis_app.hazards.demo import PIXEL

    def make(name: str = "after.png"):
        return SimpleUploadedFile(name, PIXEL, content_type="image/png")

    return make


@pytest.fixture(autouse=True)
def media_in_tmp(request, settings, tmp_path):
    # With a live server, the test and the server's processes must look at the same files.
    if "live_server" in request.fixturenames:
        settings.MEDIA_ROOT = request.getfixturevalue("live_server").media_root
    else:
        settings.MEDIA_ROOT = tmp_path / "media"


# The field-sync fixtures (tests/test_qfield.py, tests/test_field_sync.py, tests/test_sync_fuzz.py).
@pytest.fixture
def bureau(django_user_model):
    return django_user_model.objects.get(username="bureau")


@pytest.fixture
def surveyed_home(make_home, tanggu, bureau):
    home = make_home(tanggu, fire_safety_manager="王五", fire_safety_manager_phone="13800000000")
    x, y = home.location.x, home.location.y
    save_feature(
        get_layer("safety_exit"),
        by=bureau,
        home=home,
        geometry=Point(x + 0.0004, y, srid=4326),
        attributes={"kind": "door", "status": "open", "clear_width_m": "1.20", "exit_sign_ok": True},
    )
    save_feature(
        get_layer("safety_exit"),
        by=bureau,
        home=home,
        geometry=Point(x - 0.0004, y, srid=4326),
        attributes={"kind": "stairway", "status": "open"},
    )
    save_feature(
        get_layer("fire_lane"),
        by=bureau,
        home=home,
        geometry=LineString((x, y - 0.0005), (x + 0.0008, y - 0.0005), srid=4326),
        attributes={"width_m": "4.50", "status": "clear", "turnaround": False},
    )
    save_feature(
        get_layer("building"),
        by=bureau,
        home=home,
        geometry=Polygon(
            (
                (x - 0.0002, y - 0.0002),
                (x + 0.0002, y - 0.0002),
                (x + 0.0002, y + 0.0002),
                (x - 0.0002, y + 0.0002),
                (x - 0.0002, y - 0.0002),
            ),
            srid=4326,
        ),
        attributes={"name": "1号楼", "floors": 3},
    )
    save_feature(
        get_layer("fire_equipment"),
        by=bureau,
        home=home,
        geometry=Point(x, y + 0.0003, srid=4326),
        attributes={"kind": "extinguisher", "status": "ok", "last_checked_on": "2026-10-01"},
    )
    return home


@pytest.fixture
def standin(settings):
    with StandIn() as server:
        settings.QFIELDCLOUD_URL = server.url
        settings.QFIELDCLOUD_TOKEN = ""
        settings.QFIELDCLOUD_USERNAME, settings.QFIELDCLOUD_PASSWORD = server.username, server.password
        settings.QFIELDCLOUD_POLL_SECONDS = 0.2
        settings.QFIELDCLOUD_JOB_TIMEOUT = 120
        yield server
