"""The platform's clock. Everything that depends on 'today' (due dates, overdue, reminders, missed checks) asks here,
so tests (and the demo generator) can move time."""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime

from django.utils import timezone

_frozen: datetime | None = None


def now() -> datetime:
    return _frozen or timezone.now()


def today() -> date:
    return timezone.localdate(now())


@contextmanager
def travel(to: datetime) -> Iterator[None]:
    """Within the block, now() is `to` (an aware datetime)."""
    global _frozen
    before, _frozen = _frozen, to
    try:
        yield
    finally:
        _frozen = before
