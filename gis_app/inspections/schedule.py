"""What each home owes in scheduled self-checks, and what it did: due, done and missed periods per frequency.

A period (a day, a week from Monday, a month, a quarter, a half-year, a year) is done when the home recorded enough
self-checks of that frequency in it (SHIFTS_PER_DAY for shift checks, else one). The current period is due but not yet
missed. Nothing before CHECKS_TRACKED_FROM counts.
"""

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta

from django.conf import settings
from django.core.exceptions import EmptyResultSet

from gis_app.carehomes.models import CareHome
from gis_app.lib import clock
from gis_app.lib.snapshots import Snapshot, StoredRows

from .models import (
    ChecklistVersion,
    Frequency,
    Inspection,
    InspectionKind,
    ScheduleFigures,
    ScheduleWindow,
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


# The first day of an inspection's period, in SQL (as period_start; PostgreSQL's weeks start on Monday too).
PERIOD_START_SQL = """
    CASE i.frequency
        WHEN 'weekly' THEN date_trunc('week', i.inspected_on)::date
        WHEN 'monthly' THEN date_trunc('month', i.inspected_on)::date
        WHEN 'quarterly' THEN date_trunc('quarter', i.inspected_on)::date
        WHEN 'half_yearly' THEN make_date(extract(year FROM i.inspected_on)::int,
                                          CASE WHEN extract(month FROM i.inspected_on) <= 6 THEN 1 ELSE 7 END, 1)
        WHEN 'yearly' THEN date_trunc('year', i.inspected_on)::date
        ELSE i.inspected_on
    END
"""


def schedule_status(homes, start: date | None = None, end: date | None = None) -> dict[int, list[FrequencyStatus]]:
    """{home id: [FrequencyStatus per scheduled frequency]} for the window [start, end] (default: last 30 days).

    Set-based: PostgreSQL counts the self-checks per home, frequency and period and returns one row per home and
    frequency (done periods, whether the current one is done, the last check), whatever the number of homes; the
    homes are a subquery, never a list of ids. missed_periods() is the same count, period by period, for one home."""
    from django.db import connection

    start, end = _window(start, end)
    frequencies = scheduled_frequencies(end)
    periods = {f: _periods(f, start, end) for f in frequencies}
    try:
        home_sql, home_args = homes.order_by().values("pk").query.sql_with_params()
    except EmptyResultSet:  # none visible (e.g. an account without a role)
        return {}
    earliest = min((period_start(f, start) for f in frequencies), default=start)
    sql = f"""
        WITH spec AS (
            SELECT * FROM unnest(%s::text[], %s::date[], %s::date[], %s::int[]) AS s(f, first_p, current_p, need)
        ),
        per AS (
            SELECT i.care_home_id AS home, i.frequency AS f, {PERIOD_START_SQL} AS p, count(*) AS n,
                   max(i.inspected_on) AS last
            FROM inspections_inspection i
            WHERE i.care_home_id IN ({home_sql}) AND i.kind = %s AND i.inspected_on BETWEEN %s AND %s
              AND i.frequency = ANY(%s)
            GROUP BY 1, 2, 3
        )
        SELECT per.home, per.f,
               count(*) FILTER (WHERE per.n >= spec.need AND per.p >= spec.first_p),
               bool_or(per.n >= spec.need AND per.p = spec.current_p),
               max(per.last)
        FROM per JOIN spec ON spec.f = per.f
        GROUP BY per.home, per.f
    """
    spec = [
        frequencies,
        [periods[f][0] if periods[f] else start for f in frequencies],
        [periods[f][-1] if periods[f] else start for f in frequencies],
        [required_per_period(f) for f in frequencies],
    ]
    found: dict[tuple[int, str], tuple[int, bool, date]] = {}
    with connection.cursor() as cur:
        cur.execute(sql, [*spec, *home_args, InspectionKind.SELF_CHECK, earliest, end, frequencies])
        for home_id, f, done, current_done, last in cur.fetchall():
            found[(home_id, f)] = (done, current_done, last)
    result: dict[int, list[FrequencyStatus]] = {}
    for home_id in homes.order_by().values_list("pk", flat=True):
        statuses = []
        for f in frequencies:
            ps = periods[f]
            done, current_done, last = found.get((home_id, f), (0, False, None))
            ended_done = done - (1 if current_done else 0)
            statuses.append(
                FrequencyStatus(
                    frequency=f,
                    label=Frequency(f).label,
                    due=len(ps),
                    done=done,
                    missed=max(len(ps) - 1, 0) - ended_done,
                    last_done_on=last,
                    current_done=bool(current_done),
                )
            )
        result[home_id] = statuses
    return result


# Stored figures (gis_app/lib/snapshots.py): a province's 漏检统计 reads 100 stored rows instead of counting millions of
# self-checks. Below LIVE_MAX homes a window that was never built is counted directly (a 街镇 or a district: fast).
LIVE_MAX = 2000


def schedule_signature(start: date, end: date) -> str:
    """What the stored figures depend on besides the inspections (their triggers): the frequencies in force, the shifts
    a day, the first tracked day."""
    return f"{','.join(scheduled_frequencies(end))};{settings.SHIFTS_PER_DAY};{tracked_from()}"


def _figures(homes, start: date, end: date) -> dict[int, tuple[dict, int]]:
    out = {}
    for home_id, statuses in schedule_status(homes, start, end).items():
        out[home_id] = (
            {
                "s": [
                    [
                        s.frequency,
                        s.due,
                        s.done,
                        s.missed,
                        s.last_done_on and s.last_done_on.isoformat(),
                        s.current_done,
                    ]
                    for s in statuses
                ]
            },
            sum(s.missed for s in statuses),
        )
    return out


def statuses_of(figures: dict) -> list[FrequencyStatus]:
    return [
        FrequencyStatus(f, Frequency(f).label, due, done, missed, last and date.fromisoformat(last), current)
        for f, due, done, missed, last, current in figures.get("s", [])
    ]


def enqueue_build(snapshot: Snapshot, kind: str, title: str, start: date, end: date):
    """Starts (once a day per window) the background job storing a window's figures; returns that job."""
    from gis_app.jobs.models import Job
    from gis_app.jobs.services import enqueue_once

    key = snapshot.build_key(kind, start, end, clock.today())
    enqueue_once(kind=kind, title=title, key=key, params={"start": str(start), "end": str(end)})
    return Job.objects.filter(unique_key=key).first()


SCHEDULE = Snapshot(ScheduleFigures, ScheduleWindow, _figures, schedule_signature, CareHome)


def default_window(today: date | None = None) -> tuple[date, date]:
    """漏检统计's window when none is asked for: the last 30 days (what the daily job builds)."""
    return _window(None, today)


def clamp_window(start: date, end: date) -> tuple[date, date]:
    """The window as counted (nothing before CHECKS_TRACKED_FROM), so equal windows share their stored figures."""
    return _window(start, end)


def _stored_row(f: ScheduleFigures) -> dict:
    return {"home": f.care_home, "statuses": statuses_of(f.figures), "missed": f.sort_value}


@dataclass
class MissedTable:
    start: date
    end: date
    rows: object  # a sequence of {"home", "statuses", "missed"}, most missed first (sliceable, len())
    by_subdistrict: list[tuple[str, list[int]]]  # (街镇, [homes, missed]), most missed first
    stored: bool  # read from stored figures (else counted now)
    building: object = None  # the job building the asked window when it is not stored yet (a province's scale)
    asked: tuple[date, date] | None = None  # the window asked for, when another (the last built) is shown meanwhile


def missed_table(homes, start: date, end: date) -> MissedTable:
    """漏检统计 for `homes` (a queryset) over [start, end]: stored figures when the window is built (stale homes
    recomputed first), counted directly for up to LIVE_MAX homes, else the window's build is started and the last
    built window of the same length is shown meanwhile (or nothing yet)."""
    from django.db.models import Count, Sum

    start, end = clamp_window(start, end)
    building, asked = None, None
    if not SCHEDULE.is_built(start, end):
        if homes.count() <= LIVE_MAX:
            return _missed_live(homes, start, end)
        building = enqueue_build(
            SCHEDULE, "inspections.build_schedule", f"统计漏检 {start:%Y-%m-%d} 至 {end:%Y-%m-%d}", start, end
        )
        asked = (start, end)
        shown = SCHEDULE.latest_built((end - start).days, end)
        if shown is None:
            return MissedTable(start, end, [], [], stored=True, building=building, asked=asked)
        start, end = shown.start, shown.end
    SCHEDULE.refresh(homes, start, end)
    stored = SCHEDULE.rows(homes, start, end).select_related("care_home__subdistrict")
    stored = stored.only("figures", "sort_value", "care_home__name", "care_home__subdistrict__name")
    by_subdistrict = [
        (r["care_home__subdistrict__name"] or "—", [r["n"], r["missed"]])
        for r in SCHEDULE.rows(homes, start, end)
        .values("care_home__subdistrict__name")
        .annotate(n=Count("id"), missed=Sum("sort_value"))
        .order_by("-missed", "care_home__subdistrict__name")
    ]
    ordered = stored.order_by("-sort_value", "care_home__name", "care_home_id")
    rows = StoredRows(ordered, _stored_row, total=sum(agg[0] for _, agg in by_subdistrict))
    return MissedTable(start, end, rows, by_subdistrict, stored=True, building=building, asked=asked)


def _missed_live(homes, start: date, end: date) -> MissedTable:
    status = schedule_status(homes, start, end)
    rows = []
    for home in homes:
        statuses = status.get(home.pk, [])
        rows.append({"home": home, "statuses": statuses, "missed": sum(s.missed for s in statuses)})
    rows.sort(key=lambda r: (-r["missed"], r["home"].name, r["home"].pk))
    by_subdistrict: dict[str, list[int]] = {}
    for r in rows:
        name = r["home"].subdistrict.name if r["home"].subdistrict else "—"
        agg = by_subdistrict.setdefault(name, [0, 0])
        agg[0] += 1
        agg[1] += r["missed"]
    ranked = sorted(by_subdistrict.items(), key=lambda kv: (-kv[1][1], kv[0]))
    return MissedTable(start, end, rows, ranked, stored=False)
