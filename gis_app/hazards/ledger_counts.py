"""The ledger's page-wide figures (how many hazards per status, how many overdue) for a whole-district user, read from
stored counts instead of one aggregate over every hazard (~0.2 s at a million).

`hazards_ledgercount` holds signed counts per (status, due_on). Statement-level triggers on hazards_hazard append
one row per (status, due_on) a statement touches — +n for rows inserted, −n for rows deleted, the difference for
rows updated — whoever writes (a form, a QField import, the admin, SQL). Rows are only ever appended by writers, so
no two writers wait on one counter row; the figures are the sums, exact to the last committed write. The daily job
folds the appended rows into one per (status, due_on) (`compact`), which keeps the sums to a few thousand rows.
A bulk load that bypasses triggers (session_replication_role = replica) is followed by `rebuild`.
"""

from datetime import date

from django.db import connection

from gis_app.lib import counts

from .models import OPEN_STATUSES

TRIGGERS_SQL = """
CREATE FUNCTION hazards_ledgercount_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO hazards_ledgercount (status, due_on, n)
    SELECT status, due_on, count(*) FROM ledger_new GROUP BY status, due_on;
    RETURN NULL;
END $$;
CREATE FUNCTION hazards_ledgercount_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO hazards_ledgercount (status, due_on, n)
    SELECT status, due_on, -count(*) FROM ledger_old GROUP BY status, due_on;
    RETURN NULL;
END $$;
CREATE FUNCTION hazards_ledgercount_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO hazards_ledgercount (status, due_on, n)
    SELECT status, due_on, sum(n) FROM (
        SELECT status, due_on, -1 AS n FROM ledger_old UNION ALL SELECT status, due_on, 1 FROM ledger_new
    ) d GROUP BY status, due_on HAVING sum(n) <> 0;
    RETURN NULL;
END $$;
CREATE FUNCTION hazards_ledgercount_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM hazards_ledgercount;
    RETURN NULL;
END $$;
CREATE TRIGGER hazards_ledgercount_inserted AFTER INSERT ON hazards_hazard
    REFERENCING NEW TABLE AS ledger_new FOR EACH STATEMENT EXECUTE FUNCTION hazards_ledgercount_inserted();
CREATE TRIGGER hazards_ledgercount_deleted AFTER DELETE ON hazards_hazard
    REFERENCING OLD TABLE AS ledger_old FOR EACH STATEMENT EXECUTE FUNCTION hazards_ledgercount_deleted();
CREATE TRIGGER hazards_ledgercount_updated AFTER UPDATE ON hazards_hazard
    REFERENCING OLD TABLE AS ledger_old NEW TABLE AS ledger_new
    FOR EACH STATEMENT EXECUTE FUNCTION hazards_ledgercount_updated();
CREATE TRIGGER hazards_ledgercount_truncated AFTER TRUNCATE ON hazards_hazard
    FOR EACH STATEMENT EXECUTE FUNCTION hazards_ledgercount_truncated();
"""

DROP_TRIGGERS_SQL = """
DROP TRIGGER IF EXISTS hazards_ledgercount_inserted ON hazards_hazard;
DROP TRIGGER IF EXISTS hazards_ledgercount_deleted ON hazards_hazard;
DROP TRIGGER IF EXISTS hazards_ledgercount_updated ON hazards_hazard;
DROP TRIGGER IF EXISTS hazards_ledgercount_truncated ON hazards_hazard;
DROP FUNCTION IF EXISTS hazards_ledgercount_inserted();
DROP FUNCTION IF EXISTS hazards_ledgercount_deleted();
DROP FUNCTION IF EXISTS hazards_ledgercount_updated();
DROP FUNCTION IF EXISTS hazards_ledgercount_truncated();
"""

REBUILD_SQL = """
LOCK TABLE hazards_hazard IN SHARE MODE;
DELETE FROM hazards_ledgercount;
INSERT INTO hazards_ledgercount (status, due_on, n)
SELECT status, due_on, count(*) FROM hazards_hazard GROUP BY status, due_on;
"""


def figures(today: date) -> tuple[dict[str, int], int]:
    """(hazards per status, overdue hazards) over the whole ledger."""
    with connection.cursor() as cur:
        cur.execute(
            """
            SELECT status, sum(n), coalesce(sum(n) FILTER (WHERE due_on < %s AND status = ANY(%s)), 0)
            FROM hazards_ledgercount GROUP BY status
            """,
            [today, list(OPEN_STATUSES)],
        )
        rows = cur.fetchall()
    return {status: int(n) for status, n, _ in rows if n}, int(sum(late for _, _, late in rows))


def compact() -> int:
    return counts.compact("hazards_ledgercount", ("status", "due_on"))


def rebuild() -> None:
    """Count again from the hazards (after a load that bypassed triggers); writers wait for it."""
    counts.rebuild(REBUILD_SQL)
