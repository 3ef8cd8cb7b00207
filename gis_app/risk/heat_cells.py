"""Hazard counts per heat cell, stored, so the heat layer at country and province zoom reads thousands of cells
instead of every hazard (~0.6 s at a million).

A cell is a bin of the heat layer at STORED_ZOOM (45 / 2**STORED_ZOOM degrees square, anchored at 0,0); the bins of
every lower zoom are whole groups of cells (a bin at zoom z holds the cells whose indexes shifted right by
STORED_ZOOM - z agree), so the stored counts give exactly what counting the points would. `risk_hazardcell` holds
signed counts per (cell, severity, category, open): statement-level triggers append them for every write of a hazard
(its point, or its home's when it has none) and for every move of a home with hazards placed at it; writers only
append, and a hazard trigger share-locks the homes it places hazards at, so a concurrent move of that home waits for
it (and then moves the hazard too) or happens first (and the hazard lands at the new place). The daily job folds the
rows (`compact`).
"""

from gis_app.lib import counts

STORED_ZOOM = 7
CELL = 45 / 2**STORED_ZOOM  # degrees; exact in binary, as every bin size 45 / 2**z is
CLOSED = ("closed", "closed_unfixed")  # the heat layer's "open" filter: anything not closed out

_POINTS = f"""
    SELECT floor(ST_X(p) / {CELL})::int AS cx, floor(ST_Y(p) / {CELL})::int AS cy, severity, category,
           status NOT IN {CLOSED!r} AS open, sign
    FROM (SELECT COALESCE(z.location, h.location) AS p, z.severity, z.category, z.status, {{sign}} AS sign
          FROM {{rows}} z JOIN carehomes_carehome h ON h.id = z.care_home_id) t
    WHERE p IS NOT NULL
"""
_LOCK_HOMES = """
    PERFORM 1 FROM carehomes_carehome WHERE id IN (SELECT care_home_id FROM {rows} WHERE location IS NULL)
    ORDER BY id FOR SHARE;
"""
_APPEND = """
    INSERT INTO risk_hazardcell (cx, cy, severity, category, open, n)
    SELECT cx, cy, severity, category, open, sum(sign) FROM ({points}) d
    GROUP BY cx, cy, severity, category, open HAVING sum(sign) <> 0;
"""

TRIGGERS_SQL = f"""
CREATE FUNCTION risk_hazardcell_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    {_LOCK_HOMES.format(rows="cell_new")}
    {_APPEND.format(points=_POINTS.format(rows="cell_new", sign=1))}
    RETURN NULL;
END $$;
CREATE FUNCTION risk_hazardcell_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    {_LOCK_HOMES.format(rows="cell_old")}
    {_APPEND.format(points=_POINTS.format(rows="cell_old", sign=-1))}
    RETURN NULL;
END $$;
CREATE FUNCTION risk_hazardcell_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM carehomes_carehome WHERE id IN (
        SELECT care_home_id FROM cell_old WHERE location IS NULL
        UNION SELECT care_home_id FROM cell_new WHERE location IS NULL
    ) ORDER BY id FOR SHARE;
    {_APPEND.format(points=_POINTS.format(rows="cell_old", sign=-1) + " UNION ALL " + _POINTS.format(rows="cell_new", sign=1))}
    RETURN NULL;
END $$;
CREATE FUNCTION risk_hazardcell_home_moved() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO risk_hazardcell (cx, cy, severity, category, open, n)
    SELECT cx, cy, severity, category, open, sum(sign) FROM (
        SELECT floor(ST_X(m.p) / {CELL})::int AS cx, floor(ST_Y(m.p) / {CELL})::int AS cy, z.severity, z.category,
               z.status NOT IN {CLOSED!r} AS open, m.sign
        FROM (SELECT o.id, o.location AS p, -1 AS sign FROM home_old o JOIN home_new n ON n.id = o.id
              WHERE o.location IS DISTINCT FROM n.location
              UNION ALL
              SELECT n.id, n.location, 1 FROM home_old o JOIN home_new n ON n.id = o.id
              WHERE o.location IS DISTINCT FROM n.location) m
        JOIN hazards_hazard z ON z.care_home_id = m.id AND z.location IS NULL
        WHERE m.p IS NOT NULL
    ) d GROUP BY cx, cy, severity, category, open HAVING sum(sign) <> 0;
    RETURN NULL;
END $$;
CREATE FUNCTION risk_hazardcell_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM risk_hazardcell;
    RETURN NULL;
END $$;
CREATE TRIGGER risk_hazardcell_inserted AFTER INSERT ON hazards_hazard
    REFERENCING NEW TABLE AS cell_new FOR EACH STATEMENT EXECUTE FUNCTION risk_hazardcell_inserted();
CREATE TRIGGER risk_hazardcell_deleted AFTER DELETE ON hazards_hazard
    REFERENCING OLD TABLE AS cell_old FOR EACH STATEMENT EXECUTE FUNCTION risk_hazardcell_deleted();
CREATE TRIGGER risk_hazardcell_updated AFTER UPDATE ON hazards_hazard
    REFERENCING OLD TABLE AS cell_old NEW TABLE AS cell_new
    FOR EACH STATEMENT EXECUTE FUNCTION risk_hazardcell_updated();
CREATE TRIGGER risk_hazardcell_truncated AFTER TRUNCATE ON hazards_hazard
    FOR EACH STATEMENT EXECUTE FUNCTION risk_hazardcell_truncated();
CREATE TRIGGER risk_hazardcell_home_moved AFTER UPDATE ON carehomes_carehome
    REFERENCING OLD TABLE AS home_old NEW TABLE AS home_new
    FOR EACH STATEMENT EXECUTE FUNCTION risk_hazardcell_home_moved();
"""

DROP_TRIGGERS_SQL = """
DROP TRIGGER IF EXISTS risk_hazardcell_inserted ON hazards_hazard;
DROP TRIGGER IF EXISTS risk_hazardcell_deleted ON hazards_hazard;
DROP TRIGGER IF EXISTS risk_hazardcell_updated ON hazards_hazard;
DROP TRIGGER IF EXISTS risk_hazardcell_truncated ON hazards_hazard;
DROP TRIGGER IF EXISTS risk_hazardcell_home_moved ON carehomes_carehome;
DROP FUNCTION IF EXISTS risk_hazardcell_inserted();
DROP FUNCTION IF EXISTS risk_hazardcell_deleted();
DROP FUNCTION IF EXISTS risk_hazardcell_updated();
DROP FUNCTION IF EXISTS risk_hazardcell_truncated();
DROP FUNCTION IF EXISTS risk_hazardcell_home_moved();
"""

REBUILD_SQL = f"""
LOCK TABLE hazards_hazard, carehomes_carehome IN SHARE MODE;
DELETE FROM risk_hazardcell;
INSERT INTO risk_hazardcell (cx, cy, severity, category, open, n)
SELECT cx, cy, severity, category, open, sum(sign) FROM ({_POINTS.format(rows="hazards_hazard", sign=1)}) d
GROUP BY cx, cy, severity, category, open;
"""


def compact() -> int:
    return counts.compact("risk_hazardcell", ("cx", "cy", "severity", "category", "open"))


def rebuild() -> None:
    counts.rebuild(REBUILD_SQL)
