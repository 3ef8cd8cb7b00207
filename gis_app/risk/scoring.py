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

from gis_app.hazards.models import OPEN_STATUSES
from gis_app.inspections.models import ChecklistVersion, Frequency, next_period_start, period_start, required_per_period
from gis_app.inspections.schedule import tracked_from
from gis_app.lib import clock

from .models import RiskModel, RiskScore, SubdistrictRisk

WEIGHTS_FILE = Path(settings.BASE_DIR) / "fixtures" / "risk_weights.json"
INPUTS = ("open_general", "open_major", "overdue_days", "listed_major", "missed_checks", "failed_items", "beds",
          "full_care_share", "alarms")  # fmt: skip


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


def home_hazards_sql(today: date) -> tuple[str, list]:
    """Per care home: the ledger counts both the scores and the 街镇 aggregates need (one pass over the hazards)."""
    open_list = ",".join(f"'{s}'" for s in OPEN_STATUSES)
    sql = f"""
        SELECT care_home_id,
               count(*) FILTER (WHERE status IN ({open_list}) AND severity = 'general') AS open_general,
               count(*) FILTER (WHERE status IN ({open_list}) AND severity = 'major') AS open_major,
               COALESCE(sum(GREATEST(0, %s::date - due_on)) FILTER (WHERE status IN ({open_list})), 0) AS overdue_days,
               count(*) FILTER (WHERE status IN ({open_list}) AND due_on < %s) AS overdue,
               count(*) AS found_total,
               count(*) FILTER (WHERE status = 'closed') AS closed_total,
               count(*) FILTER (WHERE status = 'closed' AND closed_on >= %s) AS closed_in_period
        FROM hazards_hazard GROUP BY care_home_id
    """
    return sql, [today, today, today - timedelta(days=30)]


def _inputs_sql(today: date, home_ids: list[int] | None, hz_table: str | None = None) -> tuple[str, list]:
    """SQL yielding (home id, ARRAY[inputs in INPUTS order]) for every (or the given) home, counted in PostgreSQL."""
    missed_sql, missed_params = missed_checks_sql(check_windows(today))
    open_list = ",".join(f"'{s}'" for s in OPEN_STATUSES)
    where = "WHERE h.id = ANY(%s)" if home_ids is not None else ""
    hz_sql, hz_params = (f"SELECT * FROM {hz_table}", []) if hz_table else home_hazards_sql(today)
    sql = f"""
        WITH hz AS ({hz_sql}), ls AS (
            SELECT z.care_home_id, count(*) AS listed_major FROM hazards_supervisionlisting l
            JOIN hazards_hazard z ON z.id = l.hazard_id WHERE l.delisted_on IS NULL AND z.status IN ({open_list}) GROUP BY 1
        ), fi AS (
            SELECT r.care_home_id, count(*) AS failed_items FROM inspections_checkresult r
            JOIN inspections_inspection i ON i.id = r.inspection_id
            WHERE r.result = 'fail' AND i.inspected_on >= %s GROUP BY 1
        ), al AS (
            SELECT care_home_id, count(*) AS alarms FROM alarms_alarmevent
            WHERE kind IN ('fire', 'fault', 'isolated', 'power_loss') AND NOT false_alarm AND occurred_at >= %s GROUP BY 1
        ), mc AS ({missed_sql})
        SELECT h.id, ARRAY[COALESCE(hz.open_general, 0), COALESCE(hz.open_major, 0), COALESCE(hz.overdue_days, 0),
               COALESCE(ls.listed_major, 0), COALESCE(mc.missed, 0), COALESCE(fi.failed_items, 0),
               h.beds / 100.0, CASE WHEN h.residents > 0 THEN h.residents_full_care * 10.0 / h.residents ELSE 0 END,
               COALESCE(al.alarms, 0)]::float8[] AS vals
        FROM carehomes_carehome h
        LEFT JOIN hz ON hz.care_home_id = h.id LEFT JOIN ls ON ls.care_home_id = h.id
        LEFT JOIN fi ON fi.care_home_id = h.id LEFT JOIN mc ON mc.care_home_id = h.id
        LEFT JOIN al ON al.care_home_id = h.id
        {where}
    """
    params = [*hz_params, today - timedelta(days=90), today - timedelta(days=30), *missed_params] + (
        [home_ids] if home_ids is not None else []
    )
    return sql, params


def gather_inputs(today: date, home_ids: list[int] | None = None) -> dict[int, dict]:
    sql, params = _inputs_sql(today, home_ids)
    with connection.cursor() as cur:
        cur.execute(sql, params)
        return {row[0]: dict(zip(INPUTS, row[1], strict=True)) for row in cur.fetchall()}


def recompute_scores(today: date | None = None, home_ids: list[int] | None = None, hz_table: str | None = None) -> int:
    """Scores are summed in the same statement that counts the inputs: Σ least(cap, value × weight) per home."""
    today = today or clock.today()
    model = RiskModel.current() or load_weights()
    positions = [INPUTS.index(item["code"]) + 1 for item in model.items]
    weights = [float(item["weight"]) for item in model.items]
    caps = [float(item["cap"]) if item.get("cap") is not None else float("inf") for item in model.items]
    inputs_sql, params = _inputs_sql(today, home_ids, hz_table)
    with connection.cursor() as cur:
        cur.execute(
            f"""
            INSERT INTO {RiskScore._meta.db_table} (care_home_id, score, inputs, model_id, computed_at)
            SELECT i.id, round((SELECT COALESCE(sum(LEAST(c, i.vals[p] * w)), 0) FROM unnest(%s::int[], %s::float8[], %s::float8[])
                                AS t(p, w, c))::numeric, 2), i.vals, %s, %s
            FROM ({inputs_sql}) i
            ON CONFLICT (care_home_id) DO UPDATE SET score = EXCLUDED.score, inputs = EXCLUDED.inputs,
                model_id = EXCLUDED.model_id, computed_at = EXCLUDED.computed_at
            """,
            [positions, weights, caps, model.pk, clock.now(), *params],
        )
        return cur.rowcount


def recompute_aggregates(today: date | None = None, hz_table: str | None = None) -> int:
    """Per 街镇 and for the district, from the per-home ledger counts and the stored scores; replaces the rows atomically."""
    today = today or clock.today()
    hz_sql, hz_params = (f"SELECT * FROM {hz_table}", []) if hz_table else home_hazards_sql(today)
    sql = f"""
        WITH hz AS ({hz_sql})
        -- every 街镇, even one without homes; homes outside every 街镇 count in the district total only
        SELECT s.id, count(h.id), COALESCE(sum(hz.open_general), 0), COALESCE(sum(hz.open_major), 0),
               COALESCE(sum(hz.overdue), 0), COALESCE(sum(hz.found_total), 0), COALESCE(sum(hz.closed_total), 0),
               COALESCE(sum(hz.closed_in_period), 0), COALESCE(avg(r.score), 0), COALESCE(max(r.score), 0), GROUPING(s.id)
        FROM carehomes_carehome h FULL OUTER JOIN carehomes_subdistrict s ON s.id = h.subdistrict_id
        LEFT JOIN hz ON hz.care_home_id = h.id
        LEFT JOIN {RiskScore._meta.db_table} r ON r.care_home_id = h.id
        GROUP BY ROLLUP (s.id)
        HAVING s.id IS NOT NULL OR GROUPING(s.id) = 1
    """
    now = clock.now()
    with connection.cursor() as cur:
        cur.execute(sql, hz_params)
        rows = cur.fetchall()
    from .dashboard import district_details

    details = district_details(today)
    # ROLLUP's grand total (GROUPING = 1) is the district row; homes outside every 街镇 count only there.
    objects = [
        SubdistrictRisk(
            subdistrict_id=sub, homes=homes, open_general=og, open_major=om, overdue=od, found_total=found,
            closed_total=closed, closed_in_period=recent, zero_out_rate=round(closed / found, 4) if found else 1.0,
            mean_risk=round(float(mean), 2), max_risk=round(float(mx), 2), computed_at=now,
            details=details if _total else {},
        )
        for sub, homes, og, om, od, found, closed, recent, mean, mx, _total in rows
    ]  # fmt: skip
    with transaction.atomic():
        SubdistrictRisk.objects.all().delete()
        SubdistrictRisk.objects.bulk_create(objects)
    return len(objects)


def aggregate_values(home_ids: list[int], today: date | None = None) -> list[dict]:
    """The stored 街镇 aggregates' figures, computed over the given homes only: for a user who sees part of a 街镇 (a
    home, a third-party provider), whose figures must not include homes outside their scope. A few homes: milliseconds."""
    today = today or clock.today()
    hz_sql, hz_params = home_hazards_sql(today)
    sql = f"""
        WITH hz AS (SELECT * FROM ({hz_sql}) per_home WHERE care_home_id = ANY(%s))
        SELECT s.id, s.code, s.name, count(h.id), COALESCE(sum(hz.open_general), 0), COALESCE(sum(hz.open_major), 0),
               COALESCE(sum(hz.overdue), 0), COALESCE(sum(hz.found_total), 0), COALESCE(sum(hz.closed_total), 0),
               COALESCE(sum(hz.closed_in_period), 0), COALESCE(avg(r.score), 0), COALESCE(max(r.score), 0)
        FROM carehomes_carehome h JOIN carehomes_subdistrict s ON s.id = h.subdistrict_id
        LEFT JOIN hz ON hz.care_home_id = h.id
        LEFT JOIN {RiskScore._meta.db_table} r ON r.care_home_id = h.id
        WHERE h.id = ANY(%s)
        GROUP BY s.id, s.code, s.name ORDER BY s.code
    """
    with connection.cursor() as cur:
        cur.execute(sql, [*hz_params, list(home_ids), list(home_ids)])
        rows = cur.fetchall()
    now = clock.now()
    return [
        {
            "subdistrict_id": sub,
            "subdistrict__code": code,
            "subdistrict__name": name,
            "homes": homes,
            "open_general": int(og),
            "open_major": int(om),
            "overdue": int(od),
            "found_total": int(found),
            "closed_total": int(closed),
            "closed_in_period": int(recent),
            "zero_out_rate": round(int(closed) / int(found), 4) if found else 1.0,
            "mean_risk": round(float(mean), 2),
            "max_risk": round(float(mx), 2),
            "computed_at": now,
        }
        for sub, code, name, homes, og, om, od, found, closed, recent, mean, mx in rows
    ]


def recompute_all(today: date | None = None) -> dict[str, int]:
    """One pass over the ledger into a temporary per-home table, which the scores and the aggregates both read."""
    today = today or clock.today()
    sql, params = home_hazards_sql(today)
    with transaction.atomic():
        with connection.cursor() as cur:
            cur.execute("DROP TABLE IF EXISTS risk_home_hazards")  # a second run in one (outer) transaction
            cur.execute(f"CREATE TEMP TABLE risk_home_hazards ON COMMIT DROP AS {sql}", params)
            cur.execute("CREATE INDEX ON risk_home_hazards (care_home_id)")
        homes = recompute_scores(today, hz_table="risk_home_hazards")
        subdistricts = recompute_aggregates(today, hz_table="risk_home_hazards")
    return {"homes": homes, "subdistricts": subdistricts}
