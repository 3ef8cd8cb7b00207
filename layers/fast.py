"""Vector tiles for a signed-in browser served before Django's full request machinery (WSGI).

A map view asks for dozens of tiles at once; through Django REST framework and every middleware a z14 tile cost ~8 ms
where its SQL costs ~1 ms. This path takes only a plain session request for a tile (GET, the session cookie, no
Authorization header) and does what the full path does for it, with Django's own parts:
- the host and the https redirect are checked by SecurityMiddleware and `get_host` (anything they refuse goes on to
  Django, which answers it);
- the session is read by SessionMiddleware and the user by `django.contrib.auth.get_user` (expiry, the password
  hash that logs out other sessions, an inactive account: the same checks, the same query);
- the tile and its headers come from the same function as the view (`layers.tiles.tile_response`), then the response
  middlewares that shape a tile's headers run as they do for the view (CSP, framing, length, locale, session,
  security).
Whatever this path does not take — API tokens, Basic, an anonymous or expired session, an unknown layer or tile, a
database error — goes on to Django unchanged, so every refusal keeps its one wording. A test compares this path's
answers with Django's, header by header.
"""

import logging
import re

from django.conf import settings
from django.contrib import auth
from django.contrib.sessions.middleware import SessionMiddleware
from django.core.exceptions import DisallowedHost
from django.core.handlers.wsgi import WSGIRequest
from django.db import DatabaseError, connections
from django.middleware.clickjacking import XFrameOptionsMiddleware
from django.middleware.common import CommonMiddleware
from django.middleware.locale import LocaleMiddleware
from django.middleware.security import SecurityMiddleware
from django.utils.cache import patch_vary_headers

from gis_app.lib.csp import PlatformCSPMiddleware

from .api import BY_KEY
from .tiles import in_grid, tile_response

log = logging.getLogger(__name__)
PATH = re.compile(r"^/tiles/([a-z_]+)/(\d{1,2})/(\d{1,7})/(\d{1,7})\.pbf$")
# What Django REST framework adds to every answer of the tile view (its renderers vary by Accept).
VIEW_HEADERS = {"Allow": "GET, HEAD, OPTIONS"}
VIEW_VARY = ("Accept",)


def _unused(request):  # the middlewares below are only asked for their request and response steps
    raise AssertionError("not called")


class TileFastPath:
    def __init__(self, app):
        self.app = app
        self.security = SecurityMiddleware(_unused)
        self.session = SessionMiddleware(_unused)
        self.locale = LocaleMiddleware(_unused)
        # response steps, in the order Django runs them (the reverse of settings.MIDDLEWARE)
        self.finish = [
            PlatformCSPMiddleware(_unused),
            XFrameOptionsMiddleware(_unused),
            CommonMiddleware(_unused),
            self.locale,
            self.session,
            self.security,
        ]

    def __call__(self, environ, start_response):
        match = PATH.match(environ.get("PATH_INFO", "")) if environ.get("REQUEST_METHOD") == "GET" else None
        if (
            match is None
            or "HTTP_AUTHORIZATION" in environ
            or settings.SESSION_COOKIE_NAME + "=" not in environ.get("HTTP_COOKIE", "")
        ):
            return self.app(environ, start_response)
        try:
            response = self.handle(WSGIRequest(environ), *match.groups())
        except DatabaseError:
            log.warning("tile fast path: database error, answered by Django", exc_info=True)
            connections.close_all()
            response = None
        if response is None:
            return self.app(environ, start_response)
        headers = [*response.items(), *(("Set-Cookie", c.output(header="")) for c in response.cookies.values())]
        start_response(f"{response.status_code} {response.reason_phrase}", headers)
        return response  # the server closes it, which sends request_finished as Django's own answers do

    def handle(self, request, layer: str, z: str, x: str, y: str):
        spec = BY_KEY.get(layer)
        z, x, y = int(z), int(x), int(y)
        if spec is None or not in_grid(z, x, y):
            return None
        try:
            request.get_host()
        except DisallowedHost:
            return None
        if self.security.process_request(request) is not None:  # the https redirect
            return None
        self.session.process_request(request)
        self.locale.process_request(request)
        request.user = auth.get_user(request)
        if not request.user.is_authenticated:
            return None
        response = tile_response(request, spec, z, x, y)
        for name, value in VIEW_HEADERS.items():
            response.headers.setdefault(name, value)
        patch_vary_headers(response, VIEW_VARY)
        for middleware in self.finish:
            response = middleware.process_response(request, response)
        return response
