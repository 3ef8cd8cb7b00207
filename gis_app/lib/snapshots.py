"""Stored per-home figures of a date window, for the pages a province opens (漏检统计, 年度考核).

Computing a window's figures for 40,000 homes reads millions of rows (12–16 s); a page shows 100 homes and a few sums.
So the figures of a window are stored, one row per home, and kept exact without recomputing the whole window:

- a window is *built* once for every home by a background job (`build`), in chunks of homes (bounded memory), and
  marked built with the signature of what it was computed from (e.g. the checklist frequencies in force);
- the source tables carry statement-level triggers (`stale_triggers_sql`) that mark the rows of every home they touch
  stale, whatever wrote them (a form, a QField import, the admin, SQL);
- a page first recomputes the stale or missing rows of the homes it shows (`refresh`; a day's edits are a few homes),
  then reads the stored rows with one indexed query.

Race-free without long locks: missing rows are first inserted stale (committed), then a refresh claims stale rows by
clearing the flag and computes them in the same transaction; a trigger that fires meanwhile waits for that row lock and
marks the row stale again after the commit, so the next reader computes it once more. Nothing is ever lost, at worst
computed twice. Both lock rows in id order (no deadlock); tests/test_stored_figures.py races them.
"""

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

from django.db import connection, models, transaction
from django.utils import timezone

CHUNK = 2000  # homes per transaction of a build


class HomeWindowFigures(models.Model):
    """One home's figures for the window [start, end]. Concrete models add `care_home` (FK, related_name "+")."""

    start = models.DateField()
    end = models.DateField()
    figures = models.JSONField(default=dict)
    sort_value = models.IntegerField(default=0)  # what the page ranks by (e.g. missed checks)
    stale = models.BooleanField(default=True)

    class Meta:
        abstract = True


class BuiltWindow(models.Model):
    """A window whose figures were stored for every home, and from what (a changed signature means rebuild)."""

    start = models.DateField()
    end = models.DateField()
    signature = models.CharField(max_length=200)
    built_at = models.DateTimeField()

    class Meta:
        abstract = True


def stale_triggers_sql(snapshot_table: str, source_table: str, home_column: str = "care_home_id") -> tuple[str, str]:
    """(create, drop) SQL: after rows of `source_table` are inserted, updated or deleted, the stored figures of their
    homes are marked stale. Statement-level with transition tables, so a bulk import costs one UPDATE, not one per row.
    """
    name = f"{snapshot_table}_from_{source_table}"
    # Not "WHERE NOT stale": a row a refresh has just claimed (stale cleared, not committed) would look stale to this
    # statement and be skipped, and the refresh might have counted without this write. Matching the row whatever its
    # flag makes this statement wait for that refresh to commit and mark the row stale after it. Rows are locked in id
    # order, as refreshes lock them, so the two never deadlock.
    mark = (
        f"UPDATE {snapshot_table} SET stale = true WHERE id IN (SELECT id FROM {snapshot_table} "
        f"WHERE care_home_id IN (SELECT {home_column} FROM %s) ORDER BY id FOR UPDATE)"
    )
    parts = [
        f"""
        CREATE FUNCTION {name}_stale() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP IN ('INSERT', 'UPDATE') THEN
                {mark % "changed_new"};
            END IF;
            IF TG_OP IN ('DELETE', 'UPDATE') THEN
                {mark % "changed_old"};
            END IF;
            RETURN NULL;
        END $$;
        """
    ]
    for op, refs in (
        ("INSERT", "NEW TABLE AS changed_new"),
        ("UPDATE", "NEW TABLE AS changed_new OLD TABLE AS changed_old"),
        ("DELETE", "OLD TABLE AS changed_old"),
    ):
        parts.append(
            f"CREATE TRIGGER {name}_{op.lower()} AFTER {op} ON {source_table} REFERENCING {refs} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {name}_stale();"
        )
    drop = "".join(f"DROP TRIGGER IF EXISTS {name}_{op} ON {source_table};" for op in ("insert", "update", "delete"))
    return "\n".join(parts), drop + f"DROP FUNCTION IF EXISTS {name}_stale();"


@dataclass
class Snapshot:
    """Binds the stored figures of one page: the models, how to compute figures for some homes, and the signature of
    what they depend on besides the triggered tables."""

    figures_model: type[HomeWindowFigures]
    built_model: type[BuiltWindow]
    # compute(homes queryset, start, end) -> {home id: (figures dict, sort value)}
    compute: Callable[[models.QuerySet, date, date], dict[int, tuple[dict, int]]]
    signature: Callable[[date, date], str]
    home_model: type[models.Model]  # the homes (passed in: this module sits below the apps)

    def is_built(self, start: date, end: date) -> bool:
        return self.built_model.objects.filter(start=start, end=end, signature=self.signature(start, end)).exists()

    def latest_built(self, days: int, before: date):
        """The newest built window of the same length ending before `before` (what a page shows while today's builds)."""
        for built in self.built_model.objects.filter(end__lt=before).order_by("-end")[:50]:
            if (built.end - built.start).days == days:
                return built
        return None

    def _ensure_rows(self, homes, start: date, end: date) -> None:
        """Rows for homes that have none yet, inserted stale (committed before anyone computes them)."""
        table = self.figures_model._meta.db_table
        home_sql, home_args = homes.order_by().values("pk").query.sql_with_params()
        with connection.cursor() as cur:
            cur.execute(
                f"""
                INSERT INTO {table} (care_home_id, start, "end", figures, sort_value, stale)
                SELECT h.pk, %s, %s, '{{}}'::jsonb, 0, true FROM ({home_sql}) AS h(pk)
                WHERE NOT EXISTS (SELECT FROM {table} t WHERE t.start = %s AND t."end" = %s AND t.care_home_id = h.pk)
                ON CONFLICT (start, "end", care_home_id) DO NOTHING
                """,
                [start, end, *home_args, start, end],
            )

    def _compute_claimed(self, homes, start: date, end: date) -> int:
        """In one transaction: claim the stale rows among `homes` (clear the flag, row-locked until commit), compute
        them, store them. Returns how many were computed."""
        table = self.figures_model._meta.db_table
        home_sql, home_args = homes.order_by().values("pk").query.sql_with_params()
        with transaction.atomic(), connection.cursor() as cur:
            cur.execute(
                f"""
                UPDATE {table} SET stale = false WHERE id IN (
                    SELECT id FROM {table} WHERE start = %s AND "end" = %s AND stale AND care_home_id IN ({home_sql})
                    ORDER BY id FOR UPDATE
                )
                RETURNING care_home_id
                """,
                [start, end, *home_args],
            )
            claimed = [r[0] for r in cur.fetchall()]
            if not claimed:
                return 0
            figures = self.compute(self.home_model.objects.filter(pk__in=claimed), start, end)
            cur.execute(
                f"""
                UPDATE {table} AS t SET figures = v.figures, sort_value = v.sort_value
                FROM unnest(%s::int[], %s::jsonb[], %s::int[]) AS v(home, figures, sort_value)
                WHERE t.start = %s AND t."end" = %s AND t.care_home_id = v.home
                """,
                [
                    claimed,
                    [models.JSONField().get_db_prep_value(figures[h][0], connection) for h in claimed],
                    [figures[h][1] for h in claimed],
                    start,
                    end,
                ],
            )
            return len(claimed)

    def refresh(self, homes, start: date, end: date) -> int:
        """Brings the rows of `homes` up to date (the few stale or new ones); returns how many were computed."""
        self._ensure_rows(homes, start, end)
        return self._compute_claimed(homes, start, end)

    def build(self, start: date, end: date, progress=None) -> int:
        """Stores the window for every home, CHUNK homes per transaction, then marks it built."""
        ids = list(self.home_model.objects.order_by("pk").values_list("pk", flat=True))
        signature = self.signature(start, end)
        table = self.figures_model._meta.db_table
        with connection.cursor() as cur:  # a rebuild (new signature): every row is recomputed
            cur.execute(f'UPDATE {table} SET stale = true WHERE start = %s AND "end" = %s AND NOT stale', [start, end])
        done = 0
        for i in range(0, len(ids), CHUNK):
            chunk = self.home_model.objects.filter(pk__gte=ids[i], pk__lte=ids[min(i + CHUNK, len(ids)) - 1])
            self._ensure_rows(chunk, start, end)
            self._compute_claimed(chunk, start, end)
            done = min(i + CHUNK, len(ids))
            if progress:
                progress(done, len(ids), f"已统计 {done}/{len(ids)} 家机构")
        self.built_model.objects.update_or_create(
            start=start, end=end, defaults={"signature": signature, "built_at": timezone.now()}
        )
        return len(ids)

    def rows(self, homes, start: date, end: date):
        """The stored rows of the window for `homes` (a queryset of the figures model)."""
        rows = self.figures_model.objects.filter(start=start, end=end)
        every_home = homes.model is self.figures_model._meta.get_field("care_home").related_model
        if every_home and not homes.query.has_filters():  # all of them: no join to say so (~20 ms at 40,000)
            return rows
        return rows.filter(care_home__in=homes.order_by().values("pk"))

    def forget_older(self, days: int, keep: tuple[date, date] | None = None) -> int:
        """Deletes the windows built more than `days` ago (custom windows someone once asked for), except `keep`;
        returns the rows deleted."""
        old = self.built_model.objects.filter(built_at__lt=timezone.now() - timedelta(days=days))
        if keep:
            old = old.exclude(start=keep[0], end=keep[1])
        deleted = 0
        for built in old:
            deleted += self.figures_model.objects.filter(start=built.start, end=built.end).delete()[0]
            built.delete()
        return deleted

    def build_key(self, kind: str, start: date, end: date, today: date) -> str:
        """The unique key of the job building the window: at most one a day per window and signature."""
        digest = hashlib.sha1(self.signature(start, end).encode()).hexdigest()[:10]
        return f"{kind}:{start}:{end}:{today}:{digest}"  # ≤ 120 characters


class StoredRows:
    """Stored rows as a page and an export use them: sliceable and countable for a Paginator (one page read at a time),
    iterable in chunks for an export. `to_row` turns a stored row into what the template shows; `total`, when the
    caller already knows it (e.g. from its per-街镇 sums), spares a count. `sections`, when the order's first key is
    a field (e.g. the 街镇): (that field, [(value, rows), …] for the first values in order); a page that falls within
    them reads only their rows (a few hundred) instead of ordering every row (40,000: ~40 ms)."""

    def __init__(self, qs, to_row: Callable, total: int | None = None, sections: tuple[str, list] | None = None):
        self.qs, self.to_row, self.total, self.sections = qs, to_row, total, sections

    def _narrowed(self, start: int, stop: int):
        """The rows [start, stop) read from the sections they fall in, or None when they reach past the known ones."""
        field, counts = self.sections
        pos, first, keys = 0, 0, []
        for key, n in counts:
            if pos + n > start and pos < stop:
                if not keys:
                    first = pos
                keys.append(key)
            pos += n
            if pos >= stop:
                return self.qs.filter(**{f"{field}__in": keys})[start - first : stop - first]
        return None

    def count(self) -> int:
        if self.total is None:
            self.total = self.qs.count()
        return self.total

    def __len__(self) -> int:
        return self.count()

    def __getitem__(self, index):
        if isinstance(index, slice):
            narrowed = None
            if self.sections and index.step is None and 0 <= (index.start or 0) < (index.stop or 0):
                narrowed = self._narrowed(index.start or 0, index.stop)
            return [self.to_row(f) for f in (self.qs[index] if narrowed is None else narrowed)]
        return self.to_row(self.qs[index])

    def __iter__(self):
        return (self.to_row(f) for f in self.qs.iterator(chunk_size=2000))
