"""Counts kept by appending: triggers append signed rows (key columns + n) for every write, so writers never wait on a
counter row; readers sum; a daily job folds the rows into one per key. Used by the ledger's figures
(hazards/ledger_counts.py) and the heat cells (risk/heat_cells.py)."""

from collections.abc import Sequence

from django.db import connection, transaction


def compact(table: str, keys: Sequence[str]) -> int:
    """Fold the appended rows into one per key; returns the rows left. Safe beside writers: the statement removes and
    re-adds only the rows it sees (a write committed meanwhile stays as its own row). The rows are written in key order,
    so a reader of one part of the keys (one grid of the heat cells) reads neighbouring pages."""
    cols = ", ".join(keys)
    with connection.cursor() as cur:
        cur.execute(
            f"""
            WITH gone AS (DELETE FROM {table} RETURNING {cols}, n)
            INSERT INTO {table} ({cols}, n)
            SELECT {cols}, sum(n) FROM gone GROUP BY {cols} HAVING sum(n) <> 0 ORDER BY {cols}
            """
        )
        return cur.rowcount


def rebuild(sql: str) -> None:
    """Count again from the source rows (after a load that bypassed the triggers), in one transaction."""
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute(sql)
