"""The platform's clock. Everything that depends on 'today' (due dates, overdue, reminders, missed checks) asks here,
so tests can move time with one monkeypatch."""

from datetime import date, datetime

from django.utils import timezone


def now() -> datetime:
    return timezone.now()


def today() -> date:
    return timezone.localdate(now())
