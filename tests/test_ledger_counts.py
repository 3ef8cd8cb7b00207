"""The ledger's stored counts (gis_app/hazards/ledger_counts.py) equal a direct count after every kind of write, across
days, after compaction, and beside a concurrent writer; the bureau's unfiltered ledger reads them."""

import random
import threading
from datetime import date, timedelta

import psycopg
import pytest
from django.db import connection
from django.db.models import Count, Q
from django.test import Client
from django.test.utils import CaptureQueriesContext

from gis_app.hazards import ledger_counts
from gis_app.hazards.models import OPEN_STATUSES, Hazard, LedgerCount, Status

TODAY = date(2026, 6, 1)


def direct(today: date) -> tuple[dict[str, int], int]:
    rows = (
        Hazard.objects.order_by()
        .values_list("status")
        .annotate(n=Count("id"), late=Count("id", filter=Q(status__in=OPEN_STATUSES, due_on__lt=today)))
    )
    return {status: n for status, n, _ in rows}, sum(late for _, _, late in rows)


def assert_exact():
    for day in (TODAY - timedelta(days=40), TODAY, TODAY + timedelta(days=3), TODAY + timedelta(days=90)):
        assert ledger_counts.figures(day) == direct(day), day


def random_hazards(world, n: int, rng: random.Random) -> list[Hazard]:
    homes = [world["home_a"], world["home_b"]]
    hazards = []
    for _ in range(n):
        found = TODAY - timedelta(days=rng.randrange(0, 120))
        hazards.append(
            Hazard(
                care_home=rng.choice(homes),
                description="计数测试",
                found_on=found,
                due_on=found + timedelta(days=rng.randrange(0, 60)),
                status=rng.choice(Status.values),
            )
        )
    return Hazard.objects.bulk_create(hazards)


def test_stored_counts_equal_the_direct_count_after_every_kind_of_write(world):
    rng = random.Random(20)
    assert_exact()  # the migration counted what was there
    hazards = random_hazards(world, 300, rng)
    assert_exact()
    for h in rng.sample(hazards, 40):  # one by one, as the services do
        h.status, h.due_on = rng.choice(Status.values), h.due_on + timedelta(days=rng.randrange(-5, 30))
        h.due_on = max(h.due_on, h.found_on)
        h.save(update_fields=["status", "due_on"])
    assert_exact()
    Hazard.objects.filter(status=Status.REPORTED).update(status=Status.ASSIGNED)  # many at once
    Hazard.objects.filter(pk__in=[h.pk for h in hazards[:10]]).update(description="只改了描述")  # counts unchanged
    assert_exact()
    with connection.cursor() as cur:  # whoever writes: raw SQL too
        cur.execute("UPDATE hazards_hazard SET due_on = due_on + 7 WHERE id % 3 = 0")
        cur.execute("DELETE FROM hazards_hazard WHERE id IN (SELECT id FROM hazards_hazard ORDER BY id DESC LIMIT 25)")
    assert_exact()
    rows_before = LedgerCount.objects.count()
    left = ledger_counts.compact()
    assert left == LedgerCount.objects.count() < rows_before
    assert_exact()
    assert ledger_counts.compact() == left  # compacting again changes nothing
    assert_exact()
    ledger_counts.rebuild()
    assert_exact()


def test_the_bureaus_whole_ledger_reads_the_stored_counts_and_a_filter_counts_directly(world, clock_at):
    clock_at(TODAY)
    random_hazards(world, 80, random.Random(3))
    client = Client()
    client.force_login(world["users"]["bureau"])
    with CaptureQueriesContext(connection) as whole:
        page = client.get("/hazards/")
    sql = " ".join(q["sql"] for q in whole.captured_queries)
    assert "hazards_ledgercount" in sql and 'COUNT("hazards_hazard"."id")' not in sql
    counts, overdue = direct(TODAY)
    assert page.context["total"] == sum(counts.values()) and page.context["overdue_count"] == overdue
    assert dict((v, n) for _label, n, v in page.context["status_counts"] if n) == counts
    with CaptureQueriesContext(connection) as narrowed:
        page = client.get("/hazards/?severity=general")
    assert "hazards_ledgercount" not in " ".join(q["sql"] for q in narrowed.captured_queries)
    assert page.context["total"] == Hazard.objects.filter(severity="general").count()
    street = Client()
    street.force_login(world["users"]["subdistrict"])  # a 街镇 office counts its own hazards
    assert street.get("/hazards/").context["total"] == Hazard.objects.filter(care_home=world["home_a"]).count()


@pytest.mark.django_db(transaction=True)
def test_a_writer_never_waits_for_compaction_and_nothing_is_lost(world):
    """A write in flight while the counts are compacted: the compaction does not see its row and leaves it; the
    writer never waits on a counter row (writers only append)."""
    random_hazards(world, 50, random.Random(8))
    target = Hazard.objects.order_by("pk").first()
    db = connection.settings_dict
    writer = psycopg.connect(host=db["HOST"], port=db["PORT"], user=db["USER"], dbname=db["NAME"])
    try:
        writer.execute("UPDATE hazards_hazard SET status = 'closed' WHERE id = %s", [target.pk])  # not committed
        done = []
        compaction = threading.Thread(target=lambda: done.append(_compact_in_own_connection()))
        compaction.start()
        compaction.join(10)
        assert done, "compaction waited for the writer"
        writer.execute("UPDATE hazards_hazard SET status = 'reopened' WHERE id = %s", [target.pk + 1])
        writer.commit()
    finally:
        writer.close()
    assert_exact()


def _compact_in_own_connection() -> int:
    from django.db import connections

    try:
        return ledger_counts.compact()
    finally:
        connections.close_all()
