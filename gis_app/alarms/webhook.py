"""The alarm webhook's one handler, shared by the Django view and the WSGI fast path (gis_app.alarms.fast): vendor,
size, media type, signature, JSON, then the ingestion service. Answers (HTTP status, JSON body) for each request.

The fast path hands it the requests that arrived together (receive_many): their vendors and devices are read in one
round trip and their events stored by one statement, while each request gets the answer it would get alone."""

import json
import threading
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from . import services
from .models import EventKind


@dataclass
class Delivery:
    """One webhook request: `headers` is a mapping with X-Alarm-Timestamp / X-Alarm-Signature; `body` is read up to
    ALARM_MAX_BODY_BYTES + 1 bytes (see read_limited)."""

    slug: str
    headers: Any
    content_type: str
    content_length: str
    body: bytes


def read_limited(content_length: str, read) -> bytes:
    """The body of a request declaring `content_length`, read with `read(n)`; nothing when it is declared too large
    or not a number (the request is refused without reading it)."""
    limit = settings.ALARM_MAX_BODY_BYTES
    length = content_length or "0"
    return read(limit + 1) if length.isdigit() and int(length) <= limit else b""


def receive(slug: str, *, headers, content_type: str, content_length: str, read_body) -> tuple[int, dict]:
    """One request; `read_body(n)` reads its body."""
    body = read_limited(content_length, read_body)
    return receive_many([Delivery(slug, headers, content_type, content_length, body)])[0]


def receive_many(deliveries: list[Delivery]) -> list[tuple[int, dict]]:
    decoded = [_decode(d.body) for d in deliveries]
    wanted: dict[str, set[str]] = {}  # slug -> device ids named
    for d, (events, _) in zip(deliveries, decoded, strict=True):
        wanted.setdefault(d.slug, set()).update(services.device_ids_of(events))
    known = REMEMBERED.get(wanted)
    if known is not None:
        answers = _answer(deliveries, decoded, known, remembered=True)
        if answers is not None:
            return answers
    # Read before the signatures are checked only to name the devices: the vendors and them come in one round trip.
    found = services.vendors_and_devices(wanted)
    REMEMBERED.remember(found)
    return _answer(deliveries, decoded, found, remembered=False)


def _answer(deliveries, decoded, found, *, remembered: bool) -> list[tuple[int, dict]] | None:
    """Each request's answer, checked against the vendors and devices `found`. With `remembered` ones, only the
    success path: None as soon as any request would be refused or carries a fire alarm, or when the statement finds
    that a vendor or device changed (nothing is then stored), and the caller decides afresh."""
    answers: list[tuple[int, dict] | None] = [None] * len(deliveries)
    limit = settings.ALARM_MAX_BODY_BYTES
    to_ingest: list[tuple[int, tuple]] = []
    for i, (d, (events, problem)) in enumerate(zip(deliveries, decoded, strict=True)):
        try:
            if not (d.content_length or "0").isdigit():
                raise services.IngestError(400, {"Content-Length": "must be a number of bytes"})
            if d.slug not in found:
                raise services.IngestError(404, {"vendor": f"unknown vendor {d.slug!r}"})
            vendor, devices = found[d.slug]
            media_type = d.content_type.split(";", 1)[0].strip().lower()
            if int(d.content_length or 0) > limit or len(d.body) > limit:
                raise services.IngestError(413, {"body": f"larger than {limit} bytes"})
            if media_type != "application/json" and not media_type.endswith("+json"):
                got = (media_type or "none")[:80]
                raise services.IngestError(415, {"Content-Type": f"expected application/json, got {got}"})
            timestamp, sent = d.headers.get("X-Alarm-Timestamp"), d.headers.get("X-Alarm-Signature")
            services.verify_signature(vendor, timestamp, sent, d.body, settings.ALARM_SIGNATURE_WINDOW_SECONDS)
            if problem:
                raise services.IngestError(400, {"body": problem})
            if remembered:
                parsed = services.check_events(vendor, events, devices)
                if any(e["kind"] == EventKind.FIRE for e, _, _ in parsed):
                    return None
                to_ingest.append((i, (vendor, parsed)))
            else:
                to_ingest.append((i, (vendor, events, devices)))
        except services.IngestError as exc:
            if remembered:
                return None
            answers[i] = exc.status, {"errors": exc.errors}
    requests = [request for _, request in to_ingest]
    results = services.store_checked(requests) if remembered else services.ingest_many(requests)
    if results is None:  # a vendor or device changed since this process looked them up
        REMEMBERED.forget(found)
        return None
    for (i, _), result in zip(to_ingest, results, strict=True):
        if isinstance(result, services.IngestError):
            answers[i] = result.status, {"errors": result.errors}
        else:
            answers[i] = 200, {"accepted": result.accepted, "duplicates": result.duplicates}
    return answers


class Remembered:
    """The vendors and devices this process looked up, kept only to skip the lookup on the success path: a request is
    checked against them, and its events are stored by a statement that checks them against the tables as they are
    (services.store_checked). Whatever is refused, or does not match any more, is decided on a fresh lookup, so a
    vendor deactivated, a secret changed or a device removed takes effect at once in every process. Bounded: past
    MAX_DEVICES devices it starts again empty."""

    MAX_DEVICES = 100_000

    def __init__(self):
        self.lock = threading.Lock()
        self.vendors: dict[str, tuple[services.VendorRef, dict[str, services.DeviceRef]]] = {}
        self.size = 0

    def get(self, wanted: dict[str, set[str]]):
        with self.lock:
            known = {}
            for slug, codes in wanted.items():
                vendor, devices = self.vendors.get(slug, (None, {}))
                if vendor is None or not codes <= devices.keys():
                    return None
                known[slug] = vendor, devices
            return known

    def remember(self, found) -> None:
        with self.lock:
            for slug, (vendor, devices) in found.items():
                mine = self.vendors.get(slug)
                if mine is None or mine[0] != vendor:  # new, or its secret changed: its devices are looked up again
                    self.size -= len(mine[1]) if mine else 0
                    mine = self.vendors[slug] = vendor, {}
                self.size += len(devices.keys() - mine[1].keys())
                mine[1].update(devices)
            if self.size > self.MAX_DEVICES:
                self.vendors, self.size = {}, 0

    def forget(self, wanted) -> None:
        with self.lock:
            for slug in wanted:
                _, devices = self.vendors.pop(slug, (None, {}))
                self.size -= len(devices)


REMEMBERED = Remembered()


def _decode(body: bytes) -> tuple[Any, str | None]:
    """(the events, None) or (None-ish events, why the body is not JSON)."""
    try:
        data, problem = json.loads(body), None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        where = f"line {exc.lineno} column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else "UTF-8"
        data, problem = None, f"not valid JSON ({where})"
    return (data.get("events") if isinstance(data, dict) and "events" in data else [data]), problem
