"""Tile tickets: a short-lived signed cookie that lets a signed-in client's next tile requests skip the session, user
and profile lookups, so that a cached tile is served without touching the database.

A map asks for dozens of tiles a second. The first tile request of a client is authenticated as every other request is
(session, `Token` or Basic with a token, each read from PostgreSQL); its answer carries a ticket: the user's id and tile
scope, signed with the SECRET_KEY every process shares, stamped with the time, and bound to the credential it was
issued for (a hash of the session cookie or of the Authorization header). For `TILE_TICKET_SECONDS` after, a tile
request that carries the ticket *and the same credential* is taken as that user, in that scope, without a lookup.

What that trades, on purpose and bounded by the ticket's lifetime (60 s unless set):
- A logout, password change or deactivation reaches tiles when the ticket expires. A logout in the browser that holds
  the ticket takes effect at once, since the new session cookie (or none) no longer matches the ticket's binding; the
  delay applies only to someone replaying both cookies copied before the logout, who had those tiles a minute ago.
- A change of the user's scope (a home moved to another 街镇) reaches their tiles when the ticket expires.
Nothing else is trusted: the layer's data are as fresh as without a ticket (the tile key carries the layer's version).
"""

import hashlib
import hmac
from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import BaseAuthentication

from gis_app.carehomes.authentication import TokenBasicAuthentication

COOKIE = "tiles"
SALT = "layers.tickets"
PATH = "/tiles/"


@dataclass(frozen=True)
class Ticket:
    user_id: int
    scope: str


class TicketUser:
    """Who a ticket says the client is: the user's id and nothing else (no attribute is read from the database)."""

    is_authenticated = True
    is_anonymous = False
    is_active = True

    def __init__(self, pk: int):
        self.pk = self.id = pk

    def __str__(self) -> str:
        return f"user {self.pk} (tile ticket)"


def _credential(cookies: dict, authorization: str | None) -> str | None:
    """What the request signs in with: the Authorization header if it sends one (it wins, as in DRF), else the
    session cookie."""
    if authorization:
        return "header:" + authorization
    session = cookies.get(settings.SESSION_COOKIE_NAME)
    return "session:" + session if session else None


def _binding(credential: str) -> str:
    return hashlib.sha256(credential.encode()).hexdigest()[:32]


def issue(response, request, user_id: int, scope: str) -> None:
    """Attach a ticket for this user and scope, bound to the credential this request signed in with."""
    credential = _credential(request.COOKIES, request.META.get("HTTP_AUTHORIZATION"))
    if credential is None:
        return
    value = signing.dumps([user_id, scope, _binding(credential)], salt=SALT, compress=False)
    response.set_cookie(
        COOKIE,
        value,
        max_age=settings.TILE_TICKET_SECONDS,
        path=PATH,
        secure=settings.SESSION_COOKIE_SECURE,
        httponly=True,
        samesite="Lax",
    )


def read(cookies: dict, authorization: str | None) -> Ticket | None:
    """The request's ticket if it is genuine, younger than TILE_TICKET_SECONDS and bound to the credential the request
    carries; None otherwise (the request is then authenticated the ordinary way)."""
    value, credential = cookies.get(COOKIE), _credential(cookies, authorization)
    if not value or credential is None or settings.TILE_TICKET_SECONDS <= 0:
        return None
    try:
        user_id, scope, binding = signing.loads(value, salt=SALT, max_age=settings.TILE_TICKET_SECONDS)
    except (signing.BadSignature, ValueError, TypeError):
        return None
    if not (isinstance(user_id, int) and isinstance(scope, str) and isinstance(binding, str)):
        return None
    if not hmac.compare_digest(binding, _binding(credential)):
        return None
    return Ticket(user_id, scope)


class TileTicketAuthentication(BaseAuthentication):
    """First of the tile endpoint's authenticators; without a valid ticket the next ones (Basic, Token, session) run,
    and an anonymous request is still challenged with Basic, which QGIS answers with its stored token."""

    def authenticate(self, request):
        ticket = read(request._request.COOKIES, request._request.META.get("HTTP_AUTHORIZATION"))
        return None if ticket is None else (TicketUser(ticket.user_id), ticket)

    def authenticate_header(self, request):
        return TokenBasicAuthentication().authenticate_header(request)


class TileTicketScheme(OpenApiAuthenticationExtension):
    """The OpenAPI description of TileTicketAuthentication: a cookie the tile endpoint itself sets."""

    target_class = TileTicketAuthentication
    name = "tileTicket"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "cookie",
            "name": COOKIE,
            "description": "Set by a tile answer to a signed-in request; valid for TILE_TICKET_SECONDS with the same "
            "session cookie or Authorization header.",
        }
