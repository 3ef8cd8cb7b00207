"""Alarm ingestion shared by the webhook and the MQTT subscriber: validate the whole batch, then store it in one
statement that ignores events already stored (idempotent by the vendor's event id). A new fire alarm notifies the
home's staff and the bureau at once."""

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NamedTuple

from django.conf import settings
from django.db import connection
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from gis_app.carehomes.models import Role
from gis_app.lib import clock, prepared
from gis_app.notifications.services import email_later

from .models import AlarmEvent, AlarmStatus, Device, DeviceKind, EventKind, Vendor

MAX_EVENTS = 500
_EVENT_KINDS = frozenset(EventKind.values)  # Django builds .values anew on every access


class IngestError(Exception):
    def __init__(self, status: int, errors: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.status = status
        self.errors = errors


@dataclass
class IngestResult:
    accepted: int
    duplicates: int


class VendorRef(NamedTuple):
    """What ingestion reads of a vendor (a Vendor row serves as well)."""

    pk: int
    slug: str
    secret: str


class DeviceRef(NamedTuple):
    """What ingestion reads of a device (a Device row serves as well)."""

    pk: int
    care_home_id: int


def signature(secret: str, timestamp: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def _occurred_at(value):
    if not isinstance(value, str) or not value:
        return None
    try:
        when = parse_datetime(value)
    except ValueError:  # well formed but not a date, e.g. 2026-13-45T25:61
        return None
    return None if when is None or timezone.is_naive(when) else when


def verify_signature(
    vendor: Vendor | VendorRef, timestamp: str | None, sent: str | None, body: bytes, window: int
) -> None:
    if not timestamp or not sent:
        raise IngestError(401, {"signature": "missing X-Alarm-Timestamp or X-Alarm-Signature header"})
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
        raise IngestError(401, {"signature": "X-Alarm-Timestamp must be Unix seconds (digits only)"})
    age = abs(clock.now().timestamp() - int(timestamp))
    if age > window:
        raise IngestError(
            401, {"signature": f"timestamp is {age:.0f} s away from now (window {window} s): replayed or clock skew"}
        )
    if not hmac.compare_digest(signature(vendor.secret, timestamp, body), sent):
        raise IngestError(
            401, {"signature": "signature does not match (HMAC-SHA256 of '<timestamp>.<body>' with the vendor secret)"}
        )


def vendors_and_devices(wanted: dict[str, set[str]]) -> dict[str, tuple[VendorRef, dict[str, DeviceRef]]]:
    """{slug: device ids named} -> {slug: (the active vendor, those of its devices named)}, in one round trip for
    every request of a batch (the webhook's hot path). A slug missing from the answer is unknown or inactive."""
    device_ids = sorted({code for codes in wanted.values() for code in codes})
    rows = prepared.fetchall(_VENDORS_SQL, [device_ids, sorted(wanted)])
    found: dict[str, tuple[VendorRef, dict[str, DeviceRef]]] = {}
    for slug, vendor_pk, secret, pk, code, home in rows:
        vendor, devices = found.setdefault(slug, (VendorRef(vendor_pk, slug, secret), {}))
        if pk is not None and code in wanted[slug]:
            devices[code] = DeviceRef(pk, home)
    return found


def storable(text: str) -> bool:
    """Whether PostgreSQL can store the text: no NUL character, no unpaired surrogate (JSON allows both escaped)."""
    return "\x00" not in text and (text.isascii() or not any("\ud800" <= c <= "\udfff" for c in text))


def device_ids_of(events) -> list[str]:
    """The device ids named, that can be a device's (any other is an unknown device)."""
    if not isinstance(events, list):
        return []
    named = {str(e.get("device_id")) for e in events[: MAX_EVENTS + 1] if isinstance(e, dict)}
    return sorted(code for code in named if storable(code))


def check_events(
    vendor: Vendor | VendorRef, events: list, devices: dict[str, Device] | dict[str, DeviceRef] | None = None
) -> list[tuple[dict, Device | DeviceRef, datetime]]:
    if not isinstance(events, list) or not events:
        raise IngestError(400, {"events": 'expected an event object or {"events": [...]} with at least one event'})
    if len(events) > MAX_EVENTS:
        raise IngestError(413, {"events": f"at most {MAX_EVENTS} events per request"})
    errors: dict[str, str] = {}
    if devices is None:
        device_ids = device_ids_of(events)
        devices = {d.vendor_device_id: d for d in Device.objects.filter(vendor=vendor, vendor_device_id__in=device_ids)}
    parsed, unknown = [], False
    now = clock.now()
    for i, e in enumerate(events):
        if not isinstance(e, dict):
            errors[f"{i}"] = "expected an object"
            continue
        event_id = e.get("event_id")
        if (
            isinstance(event_id, bool)
            or not isinstance(event_id, str | int)
            or not str(event_id)
            or len(str(event_id)) > 100
            or not storable(str(event_id))
        ):
            errors[f"{i}.event_id"] = "required, a string of at most 100 characters (no NUL, no unpaired surrogate)"
        if e.get("kind") not in _EVENT_KINDS:
            errors[f"{i}.kind"] = f"expected one of {', '.join(EventKind.values)}"
        when = _occurred_at(e.get("occurred_at"))
        if when is None:
            errors[f"{i}.occurred_at"] = "required, ISO 8601 with a time zone, e.g. 2026-11-30T08:00:00+08:00"
        elif not (now - timedelta(days=settings.ALARM_MAX_AGE_DAYS) <= when <= now + timedelta(minutes=10)):
            errors[f"{i}.occurred_at"] = (
                f"{when.isoformat()} is outside the accepted window: at most {settings.ALARM_MAX_AGE_DAYS} days ago "
                "and 10 minutes ahead of the platform's clock"
            )
        device = devices.get(str(e.get("device_id")))
        if device is None:
            errors[f"{i}.device_id"] = f"unknown device {e.get('device_id')!r} for vendor {vendor.slug}"
            unknown = True
        if not errors:
            parsed.append((e, device, when))
    if errors:
        only_unknown = unknown and all(k.endswith(".device_id") for k in errors)
        raise IngestError(422 if only_unknown else 400, errors)
    return parsed


def ingest(vendor: Vendor | VendorRef, events: list, devices: dict[str, Device] | None = None) -> IngestResult:
    """`devices`: the vendor's devices named in the events when the caller has them already (else looked up)."""
    result = ingest_many([(vendor, events, devices)])[0]
    if isinstance(result, IngestError):
        raise result
    return result


def ingest_many(
    requests: list[tuple[Vendor | VendorRef, list, dict[str, Device] | dict[str, DeviceRef] | None]],
) -> list[IngestResult | IngestError]:
    """The events of several requests (vendor, events, devices as for ingest), each request validated alone: one
    request's error is its own answer and stores nothing of it, the others are stored.

    Events without a fire alarm (faults, tests, recoveries: nearly all) are stored for all requests by one insert,
    atomic by itself (no BEGIN/COMMIT round trips), that ignores events already stored. A request with a fire alarm is
    stored by its own statement that also writes each new fire alarm's notices to the bureau and the home's users: a
    fire alarm is never stored without its notices, nor noticed twice (the vendor sending it again finds it stored).
    PostgreSQL plans that statement's joins on every execution (≈5× the insert's cost), hence not for every event.
    E-mails, slow and fallible, are sent by a job, never while the vendor waits."""
    results: list[IngestResult | IngestError | None] = [None] * len(requests)
    plain: list[tuple[int, list[tuple]]] = []
    for i, (vendor, events, devices) in enumerate(requests):
        try:
            parsed = check_events(vendor, events, devices)
        except IngestError as exc:
            results[i] = exc
            continue
        rows = [
            (vendor.pk, str(e["event_id"]), d.pk, d.care_home_id, e["kind"], when.isoformat()) for e, d, when in parsed
        ]
        if any(row[4] == EventKind.FIRE for row in rows):
            results[i] = _ingest_with_notices(rows)
        else:
            plain.append((i, rows))
    if plain:
        every_row = json.dumps([row for _, rows in plain for row in rows])
        stored = set(prepared.fetchall(_INSERT_SQL + " RETURNING vendor_id, vendor_event_id", [every_row]))
        for (i, _), result in zip(plain, _counted([rows for _, rows in plain], stored), strict=True):
            results[i] = result
    return results


def store_checked(
    requests: list[tuple[VendorRef, list[tuple[dict, DeviceRef, datetime]]]],
) -> list[IngestResult] | None:
    """The webhook's success path with the vendors and devices its process remembers (webhook.Remembered): the
    events of requests already checked against them (check_events), none a fire alarm, stored by one statement that
    checks row by row that each vendor is still active with the same secret and each device still its own, and takes
    the home from the device as it is now. If any is not, nothing is stored and None is returned: the caller looks
    them up and decides afresh. One round trip instead of two for every batch of requests."""
    rows = []
    for vendor, parsed in requests:
        digest = hashlib.md5(vendor.secret.encode(), usedforsecurity=False).hexdigest()
        rows.append(
            [
                (vendor.pk, str(e["event_id"]), str(e["device_id"]), e["kind"], when.isoformat(), digest)
                for e, _, when in parsed
            ]
        )
    [(changed, stored)] = prepared.fetchall(_CHECKED_INSERT_SQL, [json.dumps([row for r in rows for row in r])])
    if changed:
        return None
    return _counted(rows, {(vendor_id, event_id) for vendor_id, event_id in json.loads(stored)})


def _counted(rows_per_request: list[list[tuple]], stored: set[tuple[int, str]]) -> list[IngestResult]:
    """Accepted and duplicate events per request, from the (vendor, event id) pairs the statement stored. An event sent
    twice (in one request or in two of the batch) is stored once: the first to name it has it."""
    results = []
    for rows in rows_per_request:
        accepted = 0
        for row in rows:
            if (row[0], row[1]) in stored:
                stored.discard((row[0], row[1]))
                accepted += 1
        results.append(IngestResult(accepted=accepted, duplicates=len(rows) - accepted))
    return results


def _ingest_with_notices(rows: list[tuple]) -> IngestResult:
    labels = [value for pair in DeviceKind.choices for value in pair]
    with connection.cursor() as cur:
        cur.execute(
            _INGEST_SQL,
            [
                json.dumps(rows),
                *labels,
                EventKind.FIRE,
                settings.TIME_ZONE,
                reverse("alarm-list"),
                Role.BUREAU,
                Role.CARE_HOME,
                settings.EMAIL_NOTIFICATIONS,
            ],
        )
        accepted, to_email = cur.fetchone()
    email_later(to_email, "火警")
    return IngestResult(accepted=accepted, duplicates=len(rows) - accepted)


_VENDORS_SQL = f"""
    SELECT v.slug, v.id, v.secret, d.id, d.vendor_device_id, d.care_home_id
    FROM {Vendor._meta.db_table} v
    LEFT JOIN LATERAL (
        SELECT one.* FROM unnest(%s::text[]) AS c(code)
        CROSS JOIN LATERAL (
            -- a probe of the unique (vendor, device id) index per device named, even in the prepared statement's
            -- generic plan (LIMIT keeps the planner from merging it into a join that reads all the vendor's devices)
            SELECT d.id, d.vendor_device_id, d.care_home_id
            FROM {Device._meta.db_table} d
            WHERE d.vendor_id = v.id AND d.vendor_device_id = c.code
            LIMIT 1
        ) one
    ) d ON true
    WHERE v.slug = ANY(%s::text[]) AND v.active
"""
_INSERT_SQL = """
    INSERT INTO alarms_alarmevent (vendor_id, vendor_event_id, device_id, care_home_id, kind, occurred_at, received_at,
                                   status, false_alarm, note, payload)
    SELECT (r->>0)::bigint, r->>1, (r->>2)::bigint, (r->>3)::bigint, r->>4, (r->>5)::timestamptz,
           now(), 'new', false, '', '{}'::jsonb
    FROM jsonb_array_elements(%s::jsonb) AS r  -- [[vendor, event id, device, home, kind, occurred at ISO 8601], …]
    ON CONFLICT (vendor_id, vendor_event_id) DO NOTHING
"""
_CHECKED_INSERT_SQL = f"""
WITH r AS (
    SELECT (x->>0)::bigint AS vendor_id, x->>1 AS event_id, x->>2 AS code, x->>3 AS kind,
           (x->>4)::timestamptz AS occurred_at, x->>5 AS secret_md5
    FROM jsonb_array_elements(%s::jsonb) AS x  -- [[vendor, event id, device id, kind, occurred at, md5 of secret], …]
),
checked AS (  -- per row, two index probes (LIMIT keeps the planner from turning them into scans of the tables)
    SELECT r.vendor_id, r.event_id, now.device_id, now.care_home_id, r.kind, r.occurred_at
    FROM r
    LEFT JOIN LATERAL (
        SELECT d.id AS device_id, d.care_home_id
        FROM {Vendor._meta.db_table} v
        JOIN {Device._meta.db_table} d ON d.vendor_id = v.id AND d.vendor_device_id = r.code
        WHERE v.id = r.vendor_id AND v.active AND md5(v.secret) = r.secret_md5
        LIMIT 1
    ) now ON true
),
ins AS (
    INSERT INTO alarms_alarmevent (vendor_id, vendor_event_id, device_id, care_home_id, kind, occurred_at, received_at,
                                   status, false_alarm, note, payload)
    SELECT vendor_id, event_id, device_id, care_home_id, kind, occurred_at, now(), 'new', false, '', '{{}}'::jsonb
    FROM checked
    WHERE NOT EXISTS (SELECT FROM checked WHERE device_id IS NULL)
    ON CONFLICT (vendor_id, vendor_event_id) DO NOTHING
    RETURNING vendor_id, vendor_event_id
)
SELECT EXISTS (SELECT FROM checked WHERE device_id IS NULL),
       (SELECT coalesce(jsonb_agg(jsonb_build_array(vendor_id, vendor_event_id)), '[]'::jsonb)::text FROM ins)
"""
_KINDS = ", ".join(["(%s, %s)"] * len(DeviceKind.choices))

_INGEST_SQL = f"""
WITH ins AS ({_INSERT_SQL} RETURNING id, kind, device_id, care_home_id, occurred_at),
fire AS (
    SELECT i.id, i.care_home_id, i.occurred_at, c.name AS home,
           coalesce(k.label, d.kind) || ' ' || coalesce(nullif(d.name, ''), d.vendor_device_id) AS device
    FROM ins i
    JOIN carehomes_carehome c ON c.id = i.care_home_id
    JOIN alarms_device d ON d.id = i.device_id
    LEFT JOIN (VALUES {_KINDS}) AS k(code, label) ON k.code = d.kind
    WHERE i.kind = %s
),
notices AS (
    INSERT INTO notifications_notification (user_id, title, body, link, dedupe_key, created_at, emailed)
    SELECT u.id, '【火警】' || f.home,
           f.device || '（' || to_char(f.occurred_at AT TIME ZONE %s, 'YYYY-MM-DD HH24:MI:SS') || '）报火警，请立即核实处置',
           %s || '#alarm-' || f.id, 'alarm:' || f.id, now(), false
    FROM fire f
    JOIN carehomes_profile p ON p.role = %s OR (p.role = %s AND p.care_home_id = f.care_home_id)
    JOIN auth_user u ON u.id = p.user_id AND u.is_active
    ON CONFLICT (user_id, dedupe_key) DO NOTHING
    RETURNING id, user_id
)
SELECT (SELECT count(*) FROM ins),
       (SELECT coalesce(array_agg(n.id ORDER BY n.id) FILTER (WHERE %s AND u.email <> ''), '{{}}')
        FROM notices n JOIN auth_user u ON u.id = n.user_id)
"""


def acknowledge(event: AlarmEvent, *, by) -> AlarmEvent:
    if event.status == AlarmStatus.NEW:
        event.status, event.acknowledged_by, event.acknowledged_at = AlarmStatus.ACKNOWLEDGED, by, clock.now()
        event.save(update_fields=["status", "acknowledged_by", "acknowledged_at"])
    return event


def handle(event: AlarmEvent, *, by, note: str, false_alarm: bool = False) -> AlarmEvent:
    if not note.strip():
        raise IngestError(400, {"note": "请填写处置情况"})
    event.status, event.handled_by, event.handled_at = AlarmStatus.HANDLED, by, clock.now()
    event.note, event.false_alarm = note.strip(), false_alarm
    if event.acknowledged_at is None:
        event.acknowledged_by, event.acknowledged_at = by, event.handled_at
    event.save()
    return event
