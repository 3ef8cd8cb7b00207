"""The alarm webhook's one handler, shared by the Django view and the WSGI fast path (gis_app.alarms.fast): vendor,
size, media type, signature, JSON, then the ingestion service. Returns (HTTP status, JSON body)."""

import json

from django.conf import settings

from . import services


def receive(slug: str, *, headers, content_type: str, content_length: str, read_body) -> tuple[int, dict]:
    """`headers`: a mapping with X-Alarm-Timestamp / X-Alarm-Signature; `read_body(n)`: reads the request body."""
    if not (content_length or "0").isdigit():
        return 400, {"errors": {"Content-Length": "must be a number of bytes"}}
    content_length = int(content_length or 0)
    limit = settings.ALARM_MAX_BODY_BYTES
    media_type = content_type.split(";", 1)[0].strip().lower()
    body = read_body(limit + 1) if content_length <= limit else b""
    # Read before the signature is checked only to name the devices: the vendor and them come in one round trip.
    try:
        data, problem = json.loads(body), None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        where = f"line {exc.lineno} column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else "UTF-8"
        data, problem = None, f"not valid JSON ({where})"
    events = data.get("events") if isinstance(data, dict) and "events" in data else [data]
    vendor, devices = services.vendor_and_devices(slug, services.device_ids_of(events))
    if vendor is None:
        return 404, {"errors": {"vendor": f"unknown vendor {slug!r}"}}
    if content_length > limit or len(body) > limit:
        return 413, {"errors": {"body": f"larger than {limit} bytes"}}
    if media_type != "application/json" and not media_type.endswith("+json"):
        return 415, {"errors": {"Content-Type": f"expected application/json, got {(media_type or 'none')[:80]}"}}
    try:
        timestamp, sent = headers.get("X-Alarm-Timestamp"), headers.get("X-Alarm-Signature")
        services.verify_signature(vendor, timestamp, sent, body, settings.ALARM_SIGNATURE_WINDOW_SECONDS)
        if problem:
            raise services.IngestError(400, {"body": problem})
        result = services.ingest(vendor, events, devices)
    except services.IngestError as exc:
        return exc.status, {"errors": exc.errors}
    return 200, {"accepted": result.accepted, "duplicates": result.duplicates}
