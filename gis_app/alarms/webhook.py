"""The alarm webhook's one handler, shared by the Django view and the WSGI fast path (gis_app.alarms.fast): vendor,
size, media type, signature, JSON, then the ingestion service. Answers (HTTP status, JSON body) for each request.

The fast path hands it the requests that arrived together (receive_many): their vendors and devices are read in one
round trip and their events stored by one statement, while each request gets the answer it would get alone."""

import json
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from . import services


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
    answers: list[tuple[int, dict] | None] = [None] * len(deliveries)
    decoded = [_decode(d.body) for d in deliveries]
    wanted: dict[str, set[str]] = {}  # slug -> device ids named
    for d, (events, _) in zip(deliveries, decoded, strict=True):
        wanted.setdefault(d.slug, set()).update(services.device_ids_of(events))
    # Read before the signatures are checked only to name the devices: the vendors and them come in one round trip.
    found = services.vendors_and_devices(wanted)
    limit = settings.ALARM_MAX_BODY_BYTES
    to_ingest: list[tuple[int, tuple]] = []
    for i, (d, (events, problem)) in enumerate(zip(deliveries, decoded, strict=True)):
        if not (d.content_length or "0").isdigit():
            answers[i] = 400, {"errors": {"Content-Length": "must be a number of bytes"}}
            continue
        if d.slug not in found:
            answers[i] = 404, {"errors": {"vendor": f"unknown vendor {d.slug!r}"}}
            continue
        vendor, devices = found[d.slug]
        media_type = d.content_type.split(";", 1)[0].strip().lower()
        try:
            if int(d.content_length or 0) > limit or len(d.body) > limit:
                raise services.IngestError(413, {"body": f"larger than {limit} bytes"})
            if media_type != "application/json" and not media_type.endswith("+json"):
                got = (media_type or "none")[:80]
                raise services.IngestError(415, {"Content-Type": f"expected application/json, got {got}"})
            timestamp, sent = d.headers.get("X-Alarm-Timestamp"), d.headers.get("X-Alarm-Signature")
            services.verify_signature(vendor, timestamp, sent, d.body, settings.ALARM_SIGNATURE_WINDOW_SECONDS)
            if problem:
                raise services.IngestError(400, {"body": problem})
        except services.IngestError as exc:
            answers[i] = exc.status, {"errors": exc.errors}
            continue
        to_ingest.append((i, (vendor, events, devices)))
    results = services.ingest_many([request for _, request in to_ingest])
    for (i, _), result in zip(to_ingest, results, strict=True):
        if isinstance(result, services.IngestError):
            answers[i] = result.status, {"errors": result.errors}
        else:
            answers[i] = 200, {"accepted": result.accepted, "duplicates": result.duplicates}
    return answers


def _decode(body: bytes) -> tuple[Any, str | None]:
    """(the events, None) or (None-ish events, why the body is not JSON)."""
    try:
        data, problem = json.loads(body), None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        where = f"line {exc.lineno} column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else "UTF-8"
        data, problem = None, f"not valid JSON ({where})"
    return (data.get("events") if isinstance(data, dict) and "events" in data else [data]), problem
