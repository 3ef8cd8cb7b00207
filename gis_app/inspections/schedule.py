"""What each home owes in scheduled self-checks, and what it did: due, done and missed periods per frequency.

A period (a day, a week from Monday, a month, a quarter, a half-year, a year) is done when the home recorded enough
self-checks of that frequency in it (SHIFTS_PER_DAY for shift checks, else one). The current period is due but not yet
missed. Nothing before CHECKS_TRACKED_FROM counts.
"""

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta

from django.conf import settings

from gis_app.lib import clock

from .models import (
    ChecklistVersion,
    Frequency,
    Inspection,
    InspectionKind,
    next_period_start,
    period_start,
    required_per_period,
)


@dataclass
class FrequencyStatus:
    frequency: str
    label: str
    due: int
    done: int
    missed: int
    last_done_on: date | None
    current_done: bool


def tracked_from() -> date:
    return date.fromisoformat(settings.CHECKS_TRACKED_FROM)


def scheduled_frequencies(day: date | None = None) -> list[str]:
    version = ChecklistVersion.in_force(day)
    if version is None:
        return []
    present = set(version.items.values_list("frequency", flat=True))
    return [f for f in Frequency.values if f in present]


def _periods(frequency: str, start: date, end: date) -> list[date]:
    out, p = [], period_start(frequency, start)
    while p <= end:
        out.append(p)
        p = next_period_start(frequency, p)
    return out


@dataclass
class MissedPeriod:
    """One ended period without enough self-checks: a day (shift checks: fewer shifts than required), a week, …"""

    frequency: str
    label: str
    start: date
    end: date  # its last day
    done: int
    need: int


def _window(start: date | None, end: date | None) -> tuple[date, date]:
    end = end or clock.today()
    return max(start or (end - timedelta(days=29)), tracked_from()), end


def _counts(home_ids, frequencies, start: date, end: date):
    """Self-checks per (home, frequency, period start), and each home's last one per frequency."""
    counts: dict[tuple[int, str, date], int] = defaultdict(int)
    last: dict[tuple[int, str], date] = {}
    earliest = min((period_start(f, start) for f in frequencies), default=start)
    rows = Inspection.objects.filter(
        care_home_id__in=home_ids, kind=InspectionKind.SELF_CHECK, inspected_on__gte=earliest, inspected_on__lte=end
    ).values_list("care_home_id", "frequency", "inspected_on")
    for home_id, frequency, day in rows:
        counts[(home_id, frequency, period_start(frequency, day))] += 1
        if last.get((home_id, frequency), date.min) < day:
            last[(home_id, frequency)] = day
    return counts, last


def missed_periods(home_id: int, start: date | None = None, end: date | None = None) -> list[MissedPeriod]:
    """The drill-down of one home's 漏检 count: each ended period of the window that lacks its self-checks, latest
    first. Counted exactly as schedule_status counts them (the current period is not missed yet)."""
    start, end = _window(start, end)
    frequencies = scheduled_frequencies(end)
    counts, _ = _counts([home_id], frequencies, start, end)
    out = []
    for f in frequencies:
        need = required_per_period(f)
        for p in _periods(f, start, end)[:-1]:
            if counts[(home_id, f, p)] < need:
                last_day = next_period_start(f, p) - timedelta(days=1)
                out.append(MissedPeriod(f, Frequency(f).label, p, last_day, counts[(home_id, f, p)], need))
    out.sort(key=lambda m: (m.start, m.frequency), reverse=True)
    return out


def schedule_status(homes, start: date | None = None, end: date | None = None) -> dict[int, list[FrequencyStatus]]:
    """{home id: [FrequencyStatus per scheduled frequency]} for the window [start, end] (default: last 30 days)."""
    start, end = _window(start, end)
    frequencies = scheduled_frequencies(end)
    home_ids = list(homes.values_list("pk", flat=True))
    counts, last = _counts(home_ids, frequencies, start, end)
    result: dict[int, list[FrequencyStatus]] = {}
    periods = {f: _periods(f, start, end) for f in frequencies}
    for home_id in home_ids:
        statuses = []
        for f in frequencies:
            need = required_per_period(f)
            ps = periods[f]
            current = ps[-1] if ps else None
            done = sum(1 for p in ps if counts[(home_id, f, p)] >= need)
            missed = sum(1 for p in ps[:-1] if counts[(home_id, f, p)] < need)
            statuses.append(
                FrequencyStatus(
                    frequency=f,
                    label=Frequency(f).label,
                    due=len(ps),
                    done=done,
                    missed=missed,
                    last_done_on=last.get((home_id, f)),
                    current_done=current is not None and counts[(home_id, f, current)] >= need,
                )  # fmt: skip
            )
        result[home_id] = statuses
    return result
