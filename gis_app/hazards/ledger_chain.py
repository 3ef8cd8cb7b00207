"""Checking the hazard history's hash chains (the hashes are written by PostgreSQL, migration 0004)."""

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from django.db import connection


@dataclass
class Break:
    hazard_id: int
    event_id: int | None
    problem: str


# Each entry against the digest recomputed from its contents, and against its predecessor in the same hazard's chain.
CHECK_SQL = """
    SELECT e.id, e.hazard_id, e.hash = hazards_event_digest(e.prev_hash, e) AS intact,
           e.prev_hash = COALESCE(lag(e.hash) OVER (PARTITION BY e.hazard_id ORDER BY e.id), '') AS linked
    FROM hazards_hazardevent e
"""
# A hazard whose history is gone altogether (every hazard has at least its "上报" entry).
ORPHANS_SQL = """
    SELECT h.id FROM hazards_hazard h WHERE NOT EXISTS (SELECT 1 FROM hazards_hazardevent e WHERE e.hazard_id = h.id)
"""


def verify(progress: Callable[[int], None] | None = None, batch: int = 10_000) -> Iterator[Break]:
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM hazards_hazardevent")
        total = cur.fetchone()[0]
    seen = 0
    with connection.chunked_cursor() as cur:  # a server-side cursor: a million entries in bounded memory
        cur.execute(CHECK_SQL)
        while rows := cur.fetchmany(batch):
            for event_id, hazard_id, intact, linked in rows:
                if not intact:
                    yield Break(hazard_id, event_id, "内容与摘要不符（记录被修改）")
                elif not linked:
                    yield Break(hazard_id, event_id, "与前一条记录的摘要不衔接（之前的记录被删除、插入或修改）")
            seen += len(rows)
            if progress:
                progress(min(seen, total))
    with connection.cursor() as cur:
        cur.execute(ORPHANS_SQL)
        for (hazard_id,) in cur.fetchall():
            yield Break(hazard_id, None, "没有任何处理记录（历史被清除）")
