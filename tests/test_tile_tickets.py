"""Tiles served from tickets: the first answer to a signed-in client carries a signed, short-lived ticket bound to its
credential; with it (and a version in the URL, as TileJSON gives it) a cached tile is served without a query, before
Django (layers/fast.py) or through the view, with the same answer; without a valid ticket everything is as before."""

import io
from unittest import mock

import mapbox_vector_tile
import pytest
from django.core.cache import caches
from django.db import OperationalError, connection
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext

from gis_app.carehomes.tokens import issue as issue_token
from gis_app.wsgi import application, django_application
from layers import services, tickets, tiles, versions
from layers.catalogue import get_layer

from .test_layers import near
from .test_layers_gis import tile_of

pytestmark = pytest.mark.django_db(transaction=True)  # tile versions advance when a change commits


class Wsgi:
    """A client of a WSGI application that keeps the cookies answers set (a browser, or QGIS)."""

    def __init__(self, app, cookies: dict | None = None, **headers):
        self.app, self.cookies, self.headers = app, dict(cookies or {}), headers

    def get(self, path: str, app=None, **headers):
        route, _, query = path.partition("?")
        environ = RequestFactory().get(route).environ
        environ.update(QUERY_STRING=query, HTTP_COOKIE="; ".join(f"{k}={v}" for k, v in self.cookies.items()))
        environ.update({**self.headers, **headers}, **{"wsgi.input": io.BytesIO()})
        status, answer = [], {}
        body = (app or self.app)(environ, lambda s, h: (status.append(s), answer.setdefault("headers", h)))
        try:
            content = b"".join(body)
        finally:
            getattr(body, "close", lambda: None)()
        headers = answer["headers"]
        for name, value in headers:
            if name.lower() == "set-cookie":
                key, _, rest = value.strip().partition("=")
                value = rest.split(";")[0]
                if value and "Max-Age=0" not in rest:
                    self.cookies[key] = value
                else:
                    self.cookies.pop(key, None)
        return int(status[0].split()[0]), dict(headers), content, [h for h in headers if h[0].lower() == "set-cookie"]


@pytest.fixture
def exits(world):
    bureau, layer = world["users"]["bureau"], get_layer("safety_exit")
    for name in ("home_a", "home_b"):
        home = world[name]
        services.save_feature(
            layer,
            by=bureau,
            home=home,
            geometry={"type": "Point", "coordinates": near(home, 4, 4)},
            attributes={"kind": "door", "status": "locked"},
        )
    return layer


def signed_in(client, user) -> dict:
    client.force_login(user)
    return {k: v.value for k, v in client.cookies.items()}


def tile_path(home, versioned: bool = True) -> str:
    x, y = tile_of(home.location.x, home.location.y, 16)
    path = f"/tiles/safety_exit/16/{x}/{y}.pbf"
    return path + f"?v={versions.current(get_layer('safety_exit'))}" if versioned else path


def features(content: bytes) -> list:
    return mapbox_vector_tile.decode(content).get("safety_exit", {}).get("features", [])


def test_the_first_answer_brings_a_ticket_and_then_a_cached_tile_needs_no_query(client, world, exits):
    browser = Wsgi(application, signed_in(client, world["users"]["bureau"]))
    path = tile_path(world["home_a"])
    status, headers, content, cookies = browser.get(path)
    assert status == 200 and len(features(content)) == 1
    [(_, cookie)] = cookies
    assert cookie.strip().startswith("tiles=") and "HttpOnly" in cookie and "Path=/tiles/" in cookie
    assert "Max-Age=60" in cookie and "SameSite=Lax" in cookie
    assert "Cookie" in headers["Vary"] and "Authorization" in headers["Vary"]
    with CaptureQueriesContext(connection) as queries:
        again = browser.get(path)
    assert not queries.captured_queries and again[0] == 200 and again[2] == content and not again[3]
    # without the version in the URL (QGIS's template): one query, for the version
    with CaptureQueriesContext(connection) as queries:
        assert browser.get(tile_path(world["home_a"], versioned=False))[2] == content
    assert [q["sql"] for q in queries.captured_queries] == [
        "SELECT version FROM layers_tile_version WHERE layer = 'safety_exit'"
    ]


@pytest.mark.parametrize("role", ["bureau", "care_home", "subdistrict"])
def test_the_fast_path_answers_as_django_does(client, world, exits, role):
    browser = Wsgi(application, signed_in(client, world["users"][role]))
    browser.get(tile_path(world["home_a"]))  # the ticket, and the scope known to this process
    for home in (world["home_a"], world["home_b"]):
        for versioned in (True, False):
            path = tile_path(home, versioned)
            for drawn in (True, False):
                if drawn:
                    scope = tickets.read(browser.cookies, None).scope
                    x, y = tile_of(home.location.x, home.location.y, 16)
                    caches["tiles"].delete(tiles._key(exits, versions.current(exits), scope, 16, x, y))
                with mock.patch.object(application.app, "app", side_effect=AssertionError("served by Django")):
                    status, headers, content, cookies = browser.get(path)
                assert status == 200 and not cookies
                assert (status, headers, content) == browser.get(path, app=django_application)[:3]
                visible = role == "bureau" or home == world["home_a"]
                assert len(features(content)) == (1 if visible else 0)


def test_a_ticket_counts_only_with_the_credential_it_was_issued_for(client, world, exits):
    browser = Wsgi(application, signed_in(client, world["users"]["bureau"]))
    path = tile_path(world["home_b"])
    browser.get(path)
    ticket = browser.cookies["tiles"]
    # with another user's session the ticket is ignored: that user's own scope, and a new ticket
    other = Wsgi(application, {**signed_in(Client(), world["users"]["care_home"]), "tiles": ticket})
    status, _, content, cookies = other.get(path)
    assert status == 200 and features(content) == [] and other.cookies["tiles"] != ticket
    # without any credential (logged out: the session cookie is gone) the ticket alone is nothing
    alone = Wsgi(application, {"tiles": ticket})
    assert alone.get(path)[0] == 401
    # a ticket altered by the client is not genuine
    forged = Wsgi(application, {**browser.cookies, "tiles": ticket[:-2] + ("AA" if ticket[-2:] != "AA" else "BB")})
    assert tickets.read(forged.cookies, None) is None
    assert forged.get(path)[0] == 200  # served from the session, which is still valid


def test_a_replayed_ticket_dies_with_its_lifetime(client, world, exits, settings):
    user = world["users"]["care_home"]
    browser = Wsgi(application, signed_in(client, user))
    path = tile_path(world["home_a"])
    browser.get(path)
    copied = dict(browser.cookies)
    client.logout()  # the session is deleted from the database
    assert Wsgi(application, {"sessionid": copied["sessionid"]}).get(path)[0] == 401
    # both cookies replayed: served within the ticket's lifetime (the documented bound), refused after it
    assert Wsgi(application, copied).get(path)[0] == 200
    import time

    later = time.time() + settings.TILE_TICKET_SECONDS + 1
    with mock.patch("django.core.signing.time.time", return_value=later):
        assert Wsgi(application, copied).get(path)[0] == 401
    settings.TILE_TICKET_SECONDS = 0  # tickets off: every request is authenticated in full
    assert Wsgi(application, copied).get(path)[0] == 401


def test_a_token_client_gets_a_ticket_bound_to_its_authorization_header(world, exits):
    import base64

    user = world["users"]["bureau"]
    _, key = issue_token(user, purpose="gis", name="QGIS")
    basic = "Basic " + base64.b64encode(f"{user.username}:{key}".encode()).decode()
    qgis = Wsgi(application, HTTP_AUTHORIZATION=basic)
    path = tile_path(world["home_a"])
    assert qgis.get(path)[0] == 200 and "tiles" in qgis.cookies
    with CaptureQueriesContext(connection) as queries:
        assert qgis.get(path)[0] == 200
    assert not queries.captured_queries
    # the same ticket with another Authorization header is ignored, and that header is checked (and refused)
    assert qgis.get(path, HTTP_AUTHORIZATION="Basic " + base64.b64encode(b"t_bureau:wrong").decode())[0] == 401


def test_a_version_in_the_url_is_kept_only_when_it_is_the_current_one(client, world, exits):
    browser = Wsgi(application, signed_in(client, world["users"]["bureau"]))
    home, layer = world["home_a"], exits
    old = tile_path(home)
    assert len(features(browser.get(old)[2])) == 1
    services.save_feature(
        layer,
        by=world["users"]["bureau"],
        home=home,
        geometry={"type": "Point", "coordinates": near(home, 6, 6)},
        attributes={"kind": "door", "status": "open"},
    )
    # the old URL still shows the old version from the cache (its name says which version it is) ...
    assert len(features(browser.get(old)[2])) == 1
    # ... and the layer's TileJSON hands out the new one, drawn fresh
    tilejson = client.get("/tiles/safety_exit.json").json()
    assert tilejson["tilejson"] == "3.0.0" and tilejson["vector_layers"][0]["id"] == "safety_exit"
    x, y = tile_of(home.location.x, home.location.y, 16)
    new = tilejson["tiles"][0].removeprefix("http://testserver").replace("{z}/{x}/{y}", f"16/{x}/{y}")
    assert new == tile_path(home) != old and len(features(browser.get(new)[2])) == 2
    # a version asked for before it exists gets the current tile, marked not to be kept, and nothing is cached for it
    ahead = versions.current(layer) + 5
    caches["tiles"].clear()
    status, headers, content, _ = browser.get(tile_path(home, versioned=False) + f"?v={ahead}")
    assert status == 200 and headers["Cache-Control"] == "no-cache" and len(features(content)) == 2
    assert caches["tiles"].get(tiles._key(layer, ahead, "all", 16, x, y)) is None
    # a malformed version is refused precisely, by the view
    status, _, content, _ = browser.get(tile_path(home, versioned=False) + "?v=abc")
    assert status == 400 and b'"v"' in content


def test_a_ticket_from_another_process_reads_its_scope_again(client, world, exits):
    browser = Wsgi(application, signed_in(client, world["users"]["care_home"]))
    browser.get(tile_path(world["home_a"]))
    caches["tiles"].clear()  # as in a process that never saw this scope
    for home, expected in ((world["home_a"], 1), (world["home_b"], 0)):
        status, _, content, _ = browser.get(tile_path(home))
        assert status == 200 and len(features(content)) == expected


def test_a_database_error_on_the_fast_path_is_served_by_django(client, world, exits):
    browser = Wsgi(application, signed_in(client, world["users"]["bureau"]))
    path = tile_path(world["home_a"])
    browser.get(path)
    caches["tiles"].clear()
    real, calls = tiles.render_versioned, []

    def once(*args):
        calls.append(args)
        if len(calls) == 1:
            raise OperationalError("server closed the connection unexpectedly")
        return real(*args)

    with mock.patch.object(tiles, "render_versioned", side_effect=once):
        status, _, content, _ = browser.get(path)
    assert status == 200 and len(features(content)) == 1 and len(calls) == 2
