"""Alarm ingestion shared by the webhook and the MQTT subscriber: validate the whole batch, then store it in one
statement that ignores events already stored (idempotent by the vendor's event id). A new fire alarm notifies the
home's staff and the bureau at once."""

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from gis_app.carehomes.models import Role
from gis_app.lib import clock
from gis_app.notifications.services import notify

from .models import AlarmEvent, AlarmStatus, Device, EventKind, Vendor

MAX_EVENTS = 500


class IngestError(Exception):
    def __init__(self, status: int, errors: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.status = status
        self.errors = errors


@dataclass
class IngestResult:
    accepted: int
    duplicates: int


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


def verify_signature(vendor: Vendor, timestamp: str | None, sent: str | None, body: bytes, window: int) -> None:
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


def vendor_and_devices(slug: str, device_ids: list[str]) -> tuple[Vendor | None, dict[str, Device]]:
    """The active vendor and those of its devices named, in one round trip (the webhook's hot path)."""
    with connection.cursor() as cur:
        cur.execute(
            f"""
            SELECT v.id, v.secret, d.id, d.vendor_device_id, d.care_home_id
            FROM {Vendor._meta.db_table} v
            LEFT JOIN {Device._meta.db_table} d ON d.vendor_id = v.id AND d.vendor_device_id = ANY(%s)
            WHERE v.slug = %s AND v.active
            """,
            [device_ids, slug],
        )
        rows = cur.fetchall()
    if not rows:
        return None, {}
    vendor = Vendor(pk=rows[0][0], slug=slug, secret=rows[0][1], active=True)
    devices = {
        code: Device(pk=pk, vendor_id=vendor.pk, vendor_device_id=code, care_home_id=home)
        for _, _, pk, code, home in rows
        if pk is not None
    }
    return vendor, devices


def device_ids_of(events) -> list[str]:
    if not isinstance(events, list):
        return []
    return sorted({str(e.get("device_id")) for e in events[: MAX_EVENTS + 1] if isinstance(e, dict)})


def _parse(
    vendor: Vendor, events: list, devices: dict[str, Device] | None = None
) -> list[tuple[dict, Device, datetime]]:
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
        ):
            errors[f"{i}.event_id"] = "required, a string of at most 100 characters"
        if e.get("kind") not in EventKind.values:
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


def ingest(vendor: Vendor, events: list, devices: dict[str, Device] | None = None) -> IngestResult:
    """`devices`: the vendor's devices named in the events when the caller has them already (else looked up)."""
    parsed = _parse(vendor, events, devices)
    table = AlarmEvent._meta.db_table
    rows = [(vendor.pk, str(e["event_id"]), d.pk, d.care_home_id, e["kind"], when) for e, d, when in parsed]
    # One statement, atomic by itself: no BEGIN/COMMIT round trips around it (a webhook stores one event per request).
    with connection.cursor() as cur:
        cur.execute(
            f"""
            INSERT INTO {table} (vendor_id, vendor_event_id, device_id, care_home_id, kind, occurred_at, received_at, status,
                                 false_alarm, note, payload)
            SELECT v, e, d, h, k, o, now(), 'new', false, '', '{{}}'::jsonb
            FROM unnest(%s::bigint[], %s::text[], %s::bigint[], %s::bigint[], %s::text[], %s::timestamptz[]) AS t(v, e, d, h, k, o)
            ON CONFLICT (vendor_id, vendor_event_id) DO NOTHING
            RETURNING id, kind
            """,
            [list(col) for col in zip(*rows, strict=True)],
        )
        created = cur.fetchall()
    fire_ids = [pk for pk, kind in created if kind == EventKind.FIRE]
    if fire_ids:  # at once in autocommit; after the caller's commit inside its transaction
        transaction.on_commit(lambda: notify_fire(fire_ids))
    return IngestResult(accepted=len(created), duplicates=len(rows) - len(created))


def notify_fire(event_ids: list[int]) -> None:
    User = get_user_model()
    for event in AlarmEvent.objects.filter(pk__in=event_ids).select_related("device", "care_home"):
        users = User.objects.filter(is_active=True).filter(profile__role=Role.BUREAU) | User.objects.filter(
            is_active=True, profile__role=Role.CARE_HOME, profile__care_home=event.care_home_id
        )
        notify(users.distinct(), title=f"【火警】{event.care_home.name}",
               body=f"{event.device}（{event.occurred_at:%Y-%m-%d %H:%M:%S}）报火警，请立即核实处置",
               link=reverse("alarm-list") + f"#alarm-{event.pk}", key=f"alarm:{event.pk}")  # fmt: skip


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
