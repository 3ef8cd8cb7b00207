"""The alarm webhook served before Django's request machinery (WSGI), for vendor platforms that post one event per
request at a high rate: no session, CSRF, login, audit or template middleware runs for it (the webhook has no user, no
cookie and changes no tracked row), only the shared handler (gis_app.alarms.webhook). Everything else goes to Django.
The host is checked against ALLOWED_HOSTS and plain http is refused where Django would redirect it, as Django does.

Requests that arrive together in one process are stored together (GroupCommit): one statement and one commit for
their events (and, for vendors or devices this process has not seen, one round trip to look them up), each request
answered as it would be alone (gis_app.alarms.webhook)."""

import json
import logging
import re
import threading
from http import HTTPStatus

from django.conf import settings
from django.core import signals
from django.db import DatabaseError, InterfaceError, OperationalError, connection, connections

from gis_app.lib import wsgi

from .webhook import Delivery, read_limited, receive_many

log = logging.getLogger(__name__)
PATH = re.compile(r"^/api/alarms/webhook/([-a-zA-Z0-9_]+)/$")
INTERNAL_ERROR = 500, {"errors": {"server": "internal error; send the events again"}}, []
UNAVAILABLE = 503, {"errors": {"database": "unavailable; send the events again"}}, [("Retry-After", "5")]


class Headers:
    """X-Alarm-Timestamp -> HTTP_X_ALARM_TIMESTAMP in the WSGI environ."""

    def __init__(self, environ):
        self.environ = environ

    def get(self, name: str, default=None):
        return self.environ.get("HTTP_" + name.upper().replace("-", "_"), default)


class GroupCommit:
    """Requests of this process's threads stored together. The first to arrive while none is being stored leads: it
    takes every request waiting (its own among them), stores them with one `handle_many` call and answers each; those
    that arrived meanwhile wait, and the first of them leads the next batch. Nothing waits on purpose: alone, a
    request is stored at once; under load a batch forms while the previous one is in the database, and the cost of the
    round trips and the commit is shared by its requests. Nothing is held back: each request is answered only after
    the statement storing it committed, and a batch that fails is served again request by request (handle_many)."""

    MAX_BATCH = 64

    class Slot:
        __slots__ = ("item", "answer", "ready")

        def __init__(self, item):
            self.item, self.answer, self.ready = item, None, threading.Event()

    def __init__(self, handle_many):
        self.handle_many = handle_many
        self.lock = threading.Lock()
        self.waiting: list[GroupCommit.Slot] = []
        self.busy = False

    def submit(self, item):
        slot = self.Slot(item)
        with self.lock:
            self.waiting.append(slot)
            leads, self.busy = not self.busy, True
        if not leads:
            slot.ready.wait()  # answered, or woken unanswered to lead the next batch
        if slot.answer is None:
            self.lead()
        return slot.answer

    def lead(self):
        with self.lock:
            batch, self.waiting = self.waiting[: self.MAX_BATCH], self.waiting[self.MAX_BATCH :]
        try:
            answers = self.handle_many([slot.item for slot in batch])
            for slot, answer in zip(batch, answers, strict=True):
                slot.answer = answer
        except Exception:
            log.exception("alarm webhook: a batch failed")
        finally:
            with self.lock:
                successor = self.waiting[0] if self.waiting else None
                self.busy = successor is not None
            for slot in batch:
                if slot.answer is None:  # handle_many raised: each answered as an internal error
                    slot.answer = INTERNAL_ERROR
                slot.ready.set()
            if successor is not None:
                successor.ready.set()


class AlarmWebhookFastPath:
    def __init__(self, app):
        self.app = app
        self.group = GroupCommit(self.handle_many)

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
        if not wsgi.host_allowed(environ):
            return 400, {"errors": {"Host": "not an allowed host"}}, []
        if settings.SECURE_SSL_REDIRECT and not wsgi.secure(environ):
            location = f"https://{wsgi.host(environ)}{environ.get('PATH_INFO', '')}"
            return 301, {"errors": {"scheme": "use https"}}, [("Location", location)]
        length = environ.get("CONTENT_LENGTH") or "0"
        body = read_limited(length, environ["wsgi.input"].read)
        return self.group.submit(Delivery(slug, Headers(environ), environ.get("CONTENT_TYPE", ""), length, body))

    def handle_many(self, deliveries: list[Delivery]) -> list[tuple[int, dict, list]]:
        # No health check per request (Django's costs a round trip before the first statement): a connection that
        # died with a database restart fails its first statement instead, and the requests are served once more on a
        # new connection. Safe to repeat: the events are stored by their ids, once, whichever attempt stored them.
        for attempt in (1, 2):
            reused = connection.connection is not None  # the webhook uses the default database only
            try:
                answers = receive_many(deliveries)
            except (OperationalError, InterfaceError):
                connections.close_all()
                if attempt == 1 and reused:
                    log.warning("alarm webhook: the database connection was gone; serving the requests again")
                    continue
                log.exception("alarm webhook: database unavailable")
                return [UNAVAILABLE] * len(deliveries)
            except Exception as exc:
                if len(deliveries) > 1:
                    # whatever one request did to fail the statement, it fails alone: each is served by itself
                    log.warning("alarm webhook: a batch of %d failed (%r); serving each alone", len(deliveries), exc)
                    return [answer for delivery in deliveries for answer in self.handle_many([delivery])]
                if isinstance(exc, DatabaseError):
                    connections.close_all()
                    log.exception("alarm webhook: database error")
                    return [UNAVAILABLE]
                log.exception("alarm webhook failed")
                return [INTERNAL_ERROR]
            finally:
                signals.request_finished.send(sender=self.__class__)
            # it has just answered: Django need not ask it again before the next request's first statement
            connection.health_check_done = connection.connection is not None
            return [(status, payload, []) for status, payload in answers]
        raise AssertionError("unreachable")
