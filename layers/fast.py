"""Tiles for clients holding a tile ticket (layers/tickets.py), served before Django's request machinery (WSGI).

A map asks for dozens of tiles a second, each small and cheap to draw; Django's middleware, URL resolving and DRF cost
more than drawing one. With a ticket nothing of them is needed: the ticket says who asks and in which scope, and the
tile comes from `layers.tiles.serve`, as the view serves it. Only what needs nothing else is answered here: a GET with
a valid ticket, a known layer and tile, a scope this process knows, no If-None-Match. Everything else (no ticket,
an expired one, a scope to read from the user, a malformed `v`, a 304 to decide, a database error) goes to Django's
view, which answers it in full (and issues the ticket). The headers are those Django's answer carries (a test
compares them), the host is checked against ALLOWED_HOSTS and plain http goes to Django where it would redirect.
"""

import logging
import re
from urllib.parse import parse_qs

from django.conf import settings
from django.core import signals
from django.db import DatabaseError, connection, connections
from django.http.cookie import parse_cookie
from rest_framework.exceptions import ValidationError

from gis_app.lib import wsgi
from gis_app.lib.csp import NOT_A_PAGE

from . import tickets, tiles
from .catalogue import BY_KEY

log = logging.getLogger(__name__)
PATH = re.compile(r"^/tiles/([a-z_]+)/([0-9]{1,2})/([0-9]{1,7})/([0-9]{1,7})\.pbf$")


def constant_headers() -> list[tuple[str, str]]:
    """What Django's middleware (security, frame options, locale, CSP) and DRF add to a tile answer."""
    headers = [
        ("Content-Type", tiles.CONTENT_TYPE),
        ("Vary", "Cookie, Authorization, Accept, Accept-Language"),
        ("Allow", "GET, HEAD, OPTIONS"),
        ("Content-Security-Policy", NOT_A_PAGE),
        ("X-Frame-Options", settings.X_FRAME_OPTIONS),
        ("Content-Language", settings.LANGUAGE_CODE),
    ]
    if settings.SECURE_CONTENT_TYPE_NOSNIFF:
        headers.append(("X-Content-Type-Options", "nosniff"))
    if settings.SECURE_REFERRER_POLICY:
        policy = settings.SECURE_REFERRER_POLICY
        headers.append(("Referrer-Policy", policy if isinstance(policy, str) else ",".join(policy)))
    if settings.SECURE_CROSS_ORIGIN_OPENER_POLICY:
        headers.append(("Cross-Origin-Opener-Policy", settings.SECURE_CROSS_ORIGIN_OPENER_POLICY))
    return headers


class TileFastPath:
    def __init__(self, app):
        self.app = app
        self.headers = constant_headers()

    def __call__(self, environ, start_response):
        match = None
        if environ.get("REQUEST_METHOD") == "GET" and "HTTP_IF_NONE_MATCH" not in environ:
            match = PATH.match(environ.get("PATH_INFO", ""))
        answer = self.answer(environ, match) if match is not None else None
        if answer is None:
            return self.app(environ, start_response)
        headers = [
            *self.headers,
            *tiles.answer_headers(answer).items(),
            ("Content-Length", str(len(answer.data))),
        ]
        if settings.SECURE_HSTS_SECONDS and wsgi.secure(environ):
            headers.append(("Strict-Transport-Security", self.hsts()))
        start_response("200 OK", headers)
        return [answer.data]

    def answer(self, environ, match) -> tiles.Answer | None:
        if not wsgi.host_allowed(environ) or (settings.SECURE_SSL_REDIRECT and not wsgi.secure(environ)):
            return None
        ticket = tickets.read(parse_cookie(environ.get("HTTP_COOKIE", "")), environ.get("HTTP_AUTHORIZATION"))
        layer = BY_KEY.get(match.group(1))
        if ticket is None or layer is None:
            return None
        z, x, y = int(match.group(2)), int(match.group(3)), int(match.group(4))
        if not (z <= 22 and x < 2**z and y < 2**z):
            return None
        query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        values = query.get("v", [None])
        if len(values) != 1:
            return None
        try:
            requested = tiles.requested_version(values[0])
        except ValidationError:
            return None
        homes = tiles.scope_homes(ticket.scope)
        if homes is False:
            return None
        try:
            answer = tiles.serve(layer, z, x, y, requested, ticket.scope, lambda: (ticket.scope, homes))
        except DatabaseError:
            # a connection a database restart left dead, or any database error: Django serves the request again
            # on a connection of its own (a GET: nothing to repeat twice)
            log.warning("tiles: database error on the fast path; Django serves the request", exc_info=True)
            connections.close_all()
            return None
        except Exception:
            log.exception("tiles: the fast path failed; Django serves the request")
            return None
        if answer.queried:
            # as at the end of a Django request: connections past their age or broken are closed
            signals.request_finished.send(sender=self.__class__)
            connection.health_check_done = connection.connection is not None
        return answer

    @staticmethod
    def hsts() -> str:
        value = f"max-age={settings.SECURE_HSTS_SECONDS}"
        if settings.SECURE_HSTS_INCLUDE_SUBDOMAINS:
            value += "; includeSubDomains"
        if settings.SECURE_HSTS_PRELOAD:
            value += "; preload"
        return value
