"""The alarm webhook served before Django's request machinery (WSGI), for vendor platforms that post one event per
request at a high rate: no session, CSRF, login, audit or template middleware runs for it (the webhook has no user, no
cookie and changes no tracked row), only the shared handler (gis_app.alarms.webhook). Everything else goes to Django.
The host is checked against ALLOWED_HOSTS and plain http is refused where Django would redirect it, as Django does."""

import json
import logging
import re
from http import HTTPStatus

from django.conf import settings
from django.core import signals
from django.db import DatabaseError, InterfaceError, OperationalError, connections
from django.http.request import split_domain_port, validate_host

from .webhook import receive

log = logging.getLogger(__name__)
PATH = re.compile(r"^/api/alarms/webhook/([-a-zA-Z0-9_]+)/$")


class Headers:
    """X-Alarm-Timestamp -> HTTP_X_ALARM_TIMESTAMP in the WSGI environ."""

    def __init__(self, environ):
        self.environ = environ

    def get(self, name: str, default=None):
        return self.environ.get("HTTP_" + name.upper().replace("-", "_"), default)


class AlarmWebhookFastPath:
    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        match = PATH.match(environ.get("PATH_INFO", "")) if environ.get("REQUEST_METHOD") == "POST" else None
        if match is None:
            return self.app(environ, start_response)
        status, payload, extra = self.handle(environ, match.group(1))
        body = json.dumps(payload, ensure_ascii=False).encode()
        headers = [
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(body))),
            ("X-Content-Type-Options", "nosniff"),
            ("Cache-Control", "no-store"),
            *extra,
        ]
        start_response(f"{status} {HTTPStatus(status).phrase}", headers)
        return [body]

    def handle(self, environ, slug: str) -> tuple[int, dict, list]:
        host = environ.get("HTTP_HOST") or environ.get("SERVER_NAME", "")
        domain, _ = split_domain_port(host)
        if not domain or not validate_host(domain, settings.ALLOWED_HOSTS):
            return 400, {"errors": {"Host": "not an allowed host"}}, []
        if settings.SECURE_SSL_REDIRECT and not self.secure(environ):
            location = f"https://{host}{environ.get('PATH_INFO', '')}"
            return 301, {"errors": {"scheme": "use https"}}, [("Location", location)]
        # No health check per request (Django's costs a round trip before the first statement): a connection that
        # died with a database restart fails its first statement instead, and the request is served once more on a
        # new connection. Safe to repeat: the events are stored by their ids, once, whichever attempt stored them.
        length, limit = environ.get("CONTENT_LENGTH") or "0", settings.ALARM_MAX_BODY_BYTES
        body = environ["wsgi.input"].read(limit + 1) if length.isdigit() and int(length) <= limit else b""
        for attempt in (1, 2):
            reused = any(c.connection is not None for c in connections.all(initialized_only=True))
            try:
                status, payload = receive(
                    slug,
                    headers=Headers(environ),
                    content_type=environ.get("CONTENT_TYPE", ""),
                    content_length=length,
                    read_body=lambda n: body[:n],
                )
            except (OperationalError, InterfaceError):
                connections.close_all()
                if attempt == 1 and reused:
                    log.warning("alarm webhook: the database connection was gone; serving the request again")
                    continue
                log.exception("alarm webhook: database unavailable")
                return 503, {"errors": {"database": "unavailable; send the events again"}}, [("Retry-After", "5")]
            except DatabaseError:
                connections.close_all()
                log.exception("alarm webhook: database error")
                return 503, {"errors": {"database": "unavailable; send the events again"}}, [("Retry-After", "5")]
            except Exception:
                log.exception("alarm webhook failed")
                return 500, {"errors": {"server": "internal error; send the events again"}}, []
            finally:
                signals.request_finished.send(sender=self.__class__)
            for conn in connections.all(initialized_only=True):
                # it has just answered: Django need not ask it again before the next request's first statement
                conn.health_check_done = conn.connection is not None
            return status, payload, []
        raise AssertionError("unreachable")

    @staticmethod
    def secure(environ) -> bool:
        header = settings.SECURE_PROXY_SSL_HEADER
        if header:
            name, value = header
            return environ.get(name, "").split(",")[0].strip() == value
        return environ.get("wsgi.url_scheme") == "https"
