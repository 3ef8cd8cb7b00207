"""Risk per care home and per 街镇: plain functions whose numbers tests check by hand; PostGIS/SQL does the counting.

score = Σ min(cap, value × weight) over the items of the current RiskModel (fixtures/risk_weights.json), each item kept
with its value, weight and points so every home's page can explain its score line by line.
"""

import json
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from django.conf import settings
from django.db import connection, transaction

from gis_app.hazards.models import FINAL_STATUSES, OPEN_STATUSES
from gis_app.inspections.models import ChecklistVersion, Frequency, next_period_start, period_start, required_per_period
from gis_app.inspections.schedule import tracked_from
from gis_app.lib import clock

from .models import RiskModel, RiskScore, SubdistrictRisk

WEIGHTS_FILE = Path(settings.BASE_DIR) / "fixtures" / "risk_weights.json"
INPUTS = ("open_general", "open_major", "overdue_days", "listed_major", "missed_checks", "failed_items", "beds",
          "full_care_share")  # fmt: skip


def load_weights(path: Path = WEIGHTS_FILE) -> RiskModel:
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    model, _ = RiskModel.objects.update_or_create(
        version=data["version"], defaults={"title": data["title"], "note": data.get("note", ""), "items": data["items"]}
    )
    return model


def explain(inputs: dict[str, float], items: list[dict]) -> list[dict]:
    out = []
    for item in items:
        value = float(inputs.get(item["code"], 0) or 0)
        points = min(float(item.get("cap") or float("inf")), value * float(item["weight"]))
        out.append({**item, "value": round(value, 2), "points": round(points, 2)})
    return out


def total(components: list[dict]) -> float:
    return round(sum(c["points"] for c in components), 2)


@dataclass
class Window:
    frequency: str
    first: date  # start of the first period counted
    current: date  # start of the current (unfinished) period
    finished: int  # whole periods between first and current
    need: int


def check_windows(today: date, days: int = 30) -> list[Window]:
    """The same periods as inspections.schedule: the last `days` days, never before CHECKS_TRACKED_FROM."""
    version = ChecklistVersion.in_force(today)
    if version is None:
        return []
    start = max(today - timedelta(days=days - 1), tracked_from())
    present = set(version.items.values_list("frequency", flat=True))
    windows = []
    for f in Frequency.values:
        if f not in present:
            continue
        first, current, n, p = period_start(f, start), period_start(f, today), 0, period_start(f, start)
        while p < current:
            n, p = n + 1, next_period_start(f, p)
        windows.append(Window(f, first, current, n, required_per_period(f)))
    return windows


PERIOD_SQL = {
    "shift": "i.inspected_on", "daily": "i.inspected_on", "nightly": "i.inspected_on",
    "weekly": "date_trunc('week', i.inspected_on)::date", "monthly": "date_trunc('month', i.inspected_on)::date",
    "quarterly": "date_trunc('quarter', i.inspected_on)::date", "yearly": "date_trunc('year', i.inspected_on)::date",
    "half_yearly": "make_date(extract(year from i.inspected_on)::int, CASE WHEN extract(month from i.inspected_on) <= 6 THEN 1 ELSE 7 END, 1)",
}  # fmt: skip


def missed_checks_sql(windows: list[Window]) -> tuple[str, list]:
    """SQL giving (care_home_id, missed) for every home with at least one finished period: finished − done."""
    if not windows:
        return "SELECT NULL::bigint AS care_home_id, 0 AS missed WHERE false", []
    parts, params = [], []
    for w in windows:
        if w.finished == 0:
            continue
        parts.append(
            f"""SELECT h.id AS care_home_id, {w.finished} - COALESCE(d.done, 0) AS missed
                FROM carehomes_carehome h LEFT JOIN (
                    SELECT care_home_id, count(*) AS done FROM (
                        SELECT i.care_home_id, {PERIOD_SQL[w.frequency]} AS p FROM inspections_inspection i
                        WHERE i.kind = 'self_check' AND i.frequency = %s AND i.inspected_on >= %s AND i.inspected_on < %s
                        GROUP BY 1, 2 HAVING count(*) >= %s) periods GROUP BY 1
                ) d ON d.care_home_id = h.id"""
        )
        params += [w.frequency, w.first, w.current, w.need]
    if not parts:
        return "SELECT NULL::bigint AS care_home_id, 0 AS missed WHERE false", []
    return f"SELECT care_home_id, sum(missed) AS missed FROM ({' UNION ALL '.join(parts)}) m GROUP BY 1", params


def gather_inputs(today: date, home_ids: list[int] | None = None) -> dict[int, dict]:
    """One SQL statement computes every input of every (or the given) home."""
    missed_sql, missed_params = missed_checks_sql(check_windows(today))
    open_list = ",".join(f"'{s}'" for s in OPEN_STATUSES)
    where = "WHERE h.id = ANY(%s)" if home_ids is not None else ""
    sql = f"""
        WITH hz AS (
            SELECT care_home_id,
                   count(*) FILTER (WHERE status IN ({open_list}) AND severity = 'general') AS open_general,
                   count(*) FILTER (WHERE status IN ({open_list}) AND severity = 'major') AS open_major,
                   COALESCE(sum(GREATEST(0, %s::date - due_on)) FILTER (WHERE status IN ({open_list})), 0) AS overdue_days
            FROM hazards_hazard GROUP BY care_home_id
        ), ls AS (
            SELECT z.care_home_id, count(*) AS listed_major FROM hazards_supervisionlisting l
            JOIN hazards_hazard z ON z.id = l.hazard_id WHERE l.delisted_on IS NULL AND z.status IN ({open_list}) GROUP BY 1
        ), fi AS (
            SELECT r.care_home_id, count(*) AS failed_items FROM inspections_checkresult r
            JOIN inspections_inspection i ON i.id = r.inspection_id
            WHERE r.result = 'fail' AND i.inspected_on >= %s GROUP BY 1
        ), mc AS ({missed_sql})
        SELECT h.id, COALESCE(hz.open_general, 0), COALESCE(hz.open_major, 0), COALESCE(hz.overdue_days, 0),
               COALESCE(ls.listed_major, 0), COALESCE(mc.missed, 0), COALESCE(fi.failed_items, 0),
               h.beds / 100.0, CASE WHEN h.residents > 0 THEN h.residents_full_care * 10.0 / h.residents ELSE 0 END
        FROM carehomes_carehome h
        LEFT JOIN hz ON hz.care_home_id = h.id LEFT JOIN ls ON ls.care_home_id = h.id
        LEFT JOIN fi ON fi.care_home_id = h.id LEFT JOIN mc ON mc.care_home_id = h.id
        {where}
    """
    params = [today, today - timedelta(days=90), *missed_params] + ([home_ids] if home_ids is not None else [])
    with connection.cursor() as cur:
        cur.execute(sql, params)
        return {row[0]: dict(zip(INPUTS, (float(v) for v in row[1:]), strict=True)) for row in cur.fetchall()}


def recompute_scores(today: date | None = None, home_ids: list[int] | None = None) -> int:
    today = today or clock.today()
    model = RiskModel.current() or load_weights()
    inputs = gather_inputs(today, home_ids)
    ids, scores, comps = [], [], []
    for home_id, values in inputs.items():
        components = explain(values, model.items)
        ids.append(home_id)
        scores.append(total(components))
        comps.append(json.dumps(components, ensure_ascii=False))
    with connection.cursor() as cur:
        cur.execute(
            f"""
            INSERT INTO {RiskScore._meta.db_table} (care_home_id, score, components, computed_at)
            SELECT u.id, u.score, u.components::jsonb, %s FROM unnest(%s::bigint[], %s::float8[], %s::text[]) AS u(id, score, components)
            ON CONFLICT (care_home_id) DO UPDATE SET score = EXCLUDED.score, components = EXCLUDED.components,
                computed_at = EXCLUDED.computed_at
            """,
            [clock.now(), ids, scores, comps],
        )
    return len(ids)


def recompute_aggregates(today: date | None = None) -> int:
    """Per 街镇 and for the district, from the stored scores and the ledger; replaces the stored rows atomically."""
    today = today or clock.today()
    open_list = ",".join(f"'{s}'" for s in OPEN_STATUSES)
    closed_list = ",".join(f"'{s}'" for s in FINAL_STATUSES if s == "closed")
    sql = f"""
        WITH hz AS (
            SELECT h.subdistrict_id,
                   count(*) FILTER (WHERE z.status IN ({open_list}) AND z.severity = 'general') AS open_general,
                   count(*) FILTER (WHERE z.status IN ({open_list}) AND z.severity = 'major') AS open_major,
                   count(*) FILTER (WHERE z.status IN ({open_list}) AND z.due_on < %s) AS overdue,
                   count(*) AS found_total,
                   count(*) FILTER (WHERE z.status IN ({closed_list})) AS closed_total,
                   count(*) FILTER (WHERE z.status IN ({closed_list}) AND z.closed_on >= %s) AS closed_in_period,
                   GROUPING(h.subdistrict_id) AS total
            FROM hazards_hazard z JOIN carehomes_carehome h ON h.id = z.care_home_id
            GROUP BY ROLLUP (h.subdistrict_id)
        ), hs AS (
            -- every 街镇, even one without homes; homes outside every 街镇 count in the district total only
            SELECT s.id AS subdistrict_id, count(h.id) AS homes, COALESCE(avg(r.score), 0) AS mean_risk,
                   COALESCE(max(r.score), 0) AS max_risk, GROUPING(s.id) AS total
            FROM carehomes_carehome h FULL OUTER JOIN carehomes_subdistrict s ON s.id = h.subdistrict_id
            LEFT JOIN {RiskScore._meta.db_table} r ON r.care_home_id = h.id
            GROUP BY ROLLUP (s.id)
        )
        SELECT hs.subdistrict_id, hs.homes, COALESCE(hz.open_general, 0), COALESCE(hz.open_major, 0), COALESCE(hz.overdue, 0),
               COALESCE(hz.found_total, 0), COALESCE(hz.closed_total, 0), COALESCE(hz.closed_in_period, 0),
               hs.mean_risk, hs.max_risk, hs.total
        FROM hs LEFT JOIN hz ON hz.subdistrict_id IS NOT DISTINCT FROM hs.subdistrict_id AND hz.total = hs.total
        WHERE hs.subdistrict_id IS NOT NULL OR hs.total = 1
    """
    now = clock.now()
    with connection.cursor() as cur:
        cur.execute(sql, [today, today - timedelta(days=30)])
        rows = cur.fetchall()
    # ROLLUP's grand total (GROUPING = 1) is the district row; homes outside every 街镇 count only there.
    objects = [
        SubdistrictRisk(
            subdistrict_id=sub, homes=homes, open_general=og, open_major=om, overdue=od, found_total=found,
            closed_total=closed, closed_in_period=recent, zero_out_rate=round(closed / found, 4) if found else 1.0,
            mean_risk=round(float(mean), 2), max_risk=round(float(mx), 2), computed_at=now,
        )
        for sub, homes, og, om, od, found, closed, recent, mean, mx, _total in rows
    ]  # fmt: skip
    with transaction.atomic():
        SubdistrictRisk.objects.all().delete()
        SubdistrictRisk.objects.bulk_create(objects)
    return len(objects)


def recompute_all(today: date | None = None) -> dict[str, int]:
    today = today or clock.today()
    return {"homes": recompute_scores(today), "subdistricts": recompute_aggregates(today)}
