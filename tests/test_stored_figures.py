"""Stored per-home figures (gis_app/lib/snapshots.py) for 漏检统计 and 年度考核 at a province's scale: the stored
path answers exactly what the direct count answers, on random data, after every kind of write (triggers mark the
touched homes stale, whoever writes), and a window not built yet at a province's scale is built by a job the page
points to."""

import random
from datetime import date, timedelta

import pytest
from django.db import connection

from gis_app.carehomes.models import CareHome
from gis_app.hazards import services as hazard_services
from gis_app.inspections import schedule
from gis_app.inspections.models import ChecklistVersion, Frequency, InspectionKind, ScheduleFigures
from gis_app.rating import annual
from gis_app.rating.models import AnnualFigures, DrillRecord

TODAY = date(2026, 11, 30)


@pytest.fixture
def checks(world, clock_at):
    """Random self-checks of every frequency for every home over 100 days, written straight in (as an import would)."""
    clock_at(TODAY)
    version = ChecklistVersion.in_force(TODAY)
    rng = random.Random(7)
    homes = list(CareHome.objects.order_by("pk").values_list("pk", flat=True))
    rows = []
    for home in homes:
        for _ in range(rng.randrange(0, 60)):
            rows.append(
                (
                    InspectionKind.SELF_CHECK,
                    rng.choice(Frequency.values),
                    TODAY - timedelta(days=rng.randrange(100)),
                    home,
                    version.pk,
                )
            )
    with connection.cursor() as cur:
        cur.executemany(
            "INSERT INTO inspections_inspection (kind, frequency, inspected_on, note, signed_by_name, signed_at,"
            " created_at, care_home_id, version_id) VALUES (%s, %s, %s, '', 't', now(), now(), %s, %s)",
            rows,
        )
    return version


def add_check(home_id: int, frequency: str, day: date, version) -> None:
    with connection.cursor() as cur:
        cur.execute(
            "INSERT INTO inspections_inspection (kind, frequency, inspected_on, note, signed_by_name, signed_at,"
            " created_at, care_home_id, version_id) VALUES (%s, %s, %s, '', 't', now(), now(), %s, %s)",
            [InspectionKind.SELF_CHECK, frequency, day, home_id, version.pk],
        )


def missed_by_home(table) -> dict:
    return {
        r["home"].pk: (
            r["missed"],
            [(s.frequency, s.due, s.done, s.missed, s.last_done_on, s.current_done) for s in r["statuses"]],
        )
        for r in table.rows
    }


def assert_missed_stored_equals_direct(homes, start, end):
    homes = homes.all()  # a fresh queryset each time (no cached rows from an earlier count)
    direct = schedule._missed_live(homes.all(), start, end)
    stored = schedule.missed_table(homes.all(), start, end)
    assert stored.stored and not direct.stored
    assert missed_by_home(stored) == missed_by_home(direct)
    assert [r["missed"] for r in stored.rows] == sorted((r["missed"] for r in direct.rows), reverse=True)
    assert dict(stored.by_subdistrict) == dict(direct.by_subdistrict)
    assert len(stored.rows) == len(direct.rows) == homes.count()
    return stored


def test_stored_missed_checks_equal_the_direct_count_and_follow_every_write(checks, world, make_home):
    start, end = schedule.default_window(TODAY)
    homes = CareHome.objects.all()
    assert not schedule.SCHEDULE.is_built(start, end)
    assert schedule.SCHEDULE.build(start, end) == homes.count()
    assert schedule.SCHEDULE.is_built(start, end)
    assert_missed_stored_equals_direct(homes, start, end)
    assert not ScheduleFigures.objects.filter(stale=True).exists()

    # A self-check written by anyone (here: SQL) marks only its home stale; the next read recomputes it.
    home = world["home_a"]
    add_check(home.pk, Frequency.MONTHLY, TODAY - timedelta(days=3), checks)
    assert list(ScheduleFigures.objects.filter(stale=True).values_list("care_home_id", flat=True)) == [home.pk]
    assert_missed_stored_equals_direct(homes, start, end)
    # A deletion and an update too.
    with connection.cursor() as cur:
        cur.execute(
            "DELETE FROM inspections_inspection WHERE id IN (SELECT id FROM inspections_inspection"
            " WHERE care_home_id = %s AND kind = 'self_check' ORDER BY id LIMIT 5)",
            [world["home_b"].pk],
        )
        cur.execute(
            "UPDATE inspections_inspection SET frequency = 'weekly' WHERE id IN (SELECT id FROM inspections_inspection"
            " WHERE care_home_id = %s AND frequency = 'daily' ORDER BY id LIMIT 3)",
            [home.pk],
        )
    assert ScheduleFigures.objects.filter(stale=True).count() == 2
    assert_missed_stored_equals_direct(homes, start, end)
    # One 街镇's view of the stored window: only its homes, the same figures.
    assert_missed_stored_equals_direct(homes.filter(subdistrict=home.subdistrict), start, end)
    # A new home has no stored row yet: it is computed on the first read.
    make_home(home.subdistrict)
    assert_missed_stored_equals_direct(homes, start, end)


def test_the_missed_checks_page_reads_stored_figures_and_a_big_unbuilt_window_is_built_by_a_job(
    client, checks, world, monkeypatch
):
    from gis_app.inspections import views
    from gis_app.inspections.jobs import build_schedule
    from gis_app.jobs.models import Job

    monkeypatch.setattr(views, "MISSED_PAGE", 1000)  # every home on one page
    client.force_login(world["users"]["bureau"])
    live = client.get("/inspections/missed/")
    assert live.status_code == 200 and "missed-building" not in live.content.decode()
    monkeypatch.setattr(schedule, "LIVE_MAX", 5)  # a province: more homes than are counted directly
    waiting = client.get("/inspections/missed/")
    page = waiting.content.decode()
    assert "正在后台计算" in page and "查看进度" in page
    job = Job.objects.get(kind="inspections.build_schedule")
    assert waiting.context["building"] == job and client.get("/inspections/missed/").context["building"] == job
    assert f"/jobs/{job.pk}/" in page
    build_schedule(job, lambda *a, **k: None)
    stored = client.get("/inspections/missed/")
    assert stored.context["building"] is None and "正在后台计算" not in stored.content.decode()
    assert [(r["home"].pk, r["missed"]) for r in stored.context["rows"]] == [
        (r["home"].pk, r["missed"]) for r in live.context["rows"]
    ]
    assert stored.context["homes_total"] == live.context["homes_total"]
    # A self-check recorded now is on the page at once (its home recomputed on read).
    top = stored.context["rows"][0]["home"]
    start, end = schedule.default_window(TODAY)
    before = stored.context["rows"][0]["missed"]
    for day in range((end - start).days + 1):
        for _ in range(2):
            add_check(top.pk, Frequency.SHIFT, start + timedelta(days=day), checks)
    direct = schedule._missed_live(CareHome.objects.filter(pk=top.pk), start, end).rows[0]["missed"]
    assert direct < before
    after = client.get("/inspections/missed/")
    assert {r["home"].pk: r["missed"] for r in after.context["rows"]}[top.pk] == direct


def test_stored_annual_figures_equal_the_direct_count_after_hazards_drills_and_checks(checks, world):
    start, end = annual.year_window(TODAY.year)
    homes = CareHome.objects.all()

    def rows(table):
        return {r["home"].pk: {k: r[k] for k in (*annual.KEYS, "stars", "subdistrict")} for r in table.rows}

    def assert_equal():
        direct = annual._annual_live(homes, TODAY.year, start, end)
        stored = annual.annual_table(homes, TODAY.year)
        assert rows(stored) == rows(direct)
        by_name = lambda subs: {s["subdistrict"]: s for s in subs}  # noqa: E731
        assert by_name(stored.subs) == by_name(direct.subs)

    annual.ANNUAL.build(start, end)
    assert_equal()
    home = world["home_a"]
    hazard_services.report_hazard(
        care_home=home, description="疏散通道堆放杂物", by=world["users"]["bureau"], found_on=TODAY - timedelta(days=10)
    )
    assert AnnualFigures.objects.filter(stale=True, care_home=home).exists()
    assert_equal()
    DrillRecord.objects.create(
        care_home=world["home_b"],
        held_on=TODAY - timedelta(days=2),
        kind="evacuation",
        participants=9,
        content="夜间疏散演练",
    )
    add_check(home.pk, Frequency.YEARLY, TODAY - timedelta(days=1), checks)
    assert AnnualFigures.objects.filter(stale=True).count() == 2
    assert_equal()
    assert rows(annual.annual_table(homes, TODAY.year))[world["home_b"].pk]["drills"] >= 1


def test_a_page_sums_only_its_first_subdistricts_and_reads_only_their_rows(checks, world, make_home):
    """The annual page of a country: the first 街镇 are summed and a page within them reads only their rows; every
    page, within them or beyond (homes without a 街镇 last), is the same as ordering every row."""
    from django.core.paginator import Paginator

    from gis_app.carehomes.models import Subdistrict

    for i, sub in enumerate(Subdistrict.objects.order_by("code")[:5]):
        for _ in range(i + 1):
            make_home(sub)
    CareHome.objects.filter(pk=make_home(Subdistrict.objects.first()).pk).update(subdistrict=None)
    homes = CareHome.objects.all()
    start, end = annual.year_window(TODAY.year)
    annual.ANNUAL.build(start, end)
    full = annual.annual_table(homes, TODAY.year)
    page = annual.annual_table(homes, TODAY.year, subs_shown=3)
    assert page.subs == full.subs[:3] and page.subs_total == full.subs_total == len(full.subs) > 4
    assert full.subs[-1]["subdistrict"] == "—"
    assert page.rows.sections is not None and full.rows.sections is None
    every = [r["home"].pk for r in full.rows]
    assert len(every) == homes.count() == page.rows.count()
    for size in (1, 2, 3, 5):
        pages = Paginator(page.rows, size)
        read = [r["home"].pk for n in pages.page_range for r in pages.page(n).object_list]
        assert read == every, size
    narrowed = page.rows._narrowed(0, 2)
    assert narrowed is not None and "IN" in str(narrowed.query)
    assert page.rows._narrowed(0, len(every)) is None  # past the summed 街镇: ordered as a whole


def test_a_changed_checklist_signature_means_the_window_is_no_longer_built(checks, settings):
    start, end = schedule.default_window(TODAY)
    schedule.SCHEDULE.build(start, end)
    assert schedule.SCHEDULE.is_built(start, end)
    settings.SHIFTS_PER_DAY = 3  # what a done shift period means changed: the stored figures no longer hold
    assert not schedule.SCHEDULE.is_built(start, end)
    schedule.SCHEDULE.build(start, end)
    assert_missed_stored_equals_direct(CareHome.objects.all(), start, end)


def test_the_daily_jobs_build_today_and_forget_windows_nobody_asked_for(checks):
    from django.utils import timezone

    from gis_app.inspections.jobs import daily_schedule
    from gis_app.inspections.models import ScheduleWindow
    from gis_app.rating.jobs import daily_annual

    old_start, old_end = date(2026, 6, 1), date(2026, 6, 30)
    schedule.SCHEDULE.build(old_start, old_end)
    ScheduleWindow.objects.filter(start=old_start).update(built_at=timezone.now() - timedelta(days=8))
    result = daily_schedule(None, lambda *a, **k: None)
    assert result["forgotten_rows"] == CareHome.objects.count()
    assert not ScheduleFigures.objects.filter(start=old_start).exists()
    assert schedule.SCHEDULE.is_built(*schedule.default_window(TODAY))
    daily_annual(None, lambda *a, **k: None)
    assert annual.ANNUAL.is_built(*annual.year_window(TODAY.year))


@pytest.mark.django_db(transaction=True)
def test_a_write_during_a_refresh_is_never_lost(world, clock_at):
    """A refresh has claimed a home's row (flag cleared, not committed) and counted; a self-check for that home is
    written meanwhile. The write's trigger waits for the refresh to commit and marks the row stale after it, so the next
    read counts the new check (a trigger that skipped rows no longer flagged stale lost it)."""
    import threading

    import psycopg

    clock_at(TODAY)
    version = ChecklistVersion.in_force(TODAY)
    home = world["home_a"]
    start, end = schedule.default_window(TODAY)
    schedule.SCHEDULE.build(start, end)
    add_check(home.pk, Frequency.MONTHLY, TODAY - timedelta(days=2), version)  # the row is stale now
    db = connection.settings_dict
    refresh = psycopg.connect(host=db["HOST"], port=db["PORT"], user=db["USER"], dbname=db["NAME"])
    try:
        claimed = refresh.execute(
            "UPDATE inspections_schedulefigures SET stale = false WHERE id IN (SELECT id FROM"
            " inspections_schedulefigures WHERE care_home_id = %s AND stale ORDER BY id FOR UPDATE) RETURNING id",
            [home.pk],
        ).fetchall()
        assert len(claimed) == 1  # claimed, counted (without the check below), not committed yet
        writer = threading.Thread(
            target=add_check, args=(home.pk, Frequency.WEEKLY, TODAY - timedelta(days=1), version)
        )
        writer.start()
        writer.join(1.0)
        assert writer.is_alive()  # the write's trigger waits for the refresh
        refresh.commit()
        writer.join(10)
        assert not writer.is_alive()
    finally:
        refresh.close()
    assert ScheduleFigures.objects.get(care_home=home, start=start, end=end).stale
    homes = CareHome.objects.filter(pk=home.pk)
    assert missed_by_home(schedule.missed_table(homes, start, end)) == missed_by_home(
        schedule._missed_live(homes, start, end)
    )


def _bodies(sql: str) -> dict[str, str]:
    """Function name → its body (between $$ … $$), blanks normalised, from CREATE FUNCTION statements."""
    import re

    found = re.findall(r"CREATE (?:OR REPLACE )?FUNCTION (\w+)\(\).*?AS \$\$(.*?)\$\$", sql, re.S)
    return {name: " ".join(body.split()) for name, body in found}


@pytest.mark.django_db
def test_the_migrated_database_runs_the_triggers_the_code_describes():
    """Migrations keep frozen copies of the SQL they ran; the code may move on only with a migration that brings
    every database along (0004 of inspections and rating did, for the stale triggers fixed after 0003 ran). Here:
    what PostgreSQL holds after migrating equals what the code generates today."""
    from gis_app.hazards import ledger_counts
    from gis_app.lib.snapshots import stale_triggers_sql

    expected = _bodies(ledger_counts.TRIGGERS_SQL)
    expected |= _bodies(stale_triggers_sql("inspections_schedulefigures", "inspections_inspection")[0])
    for source in ("inspections_inspection", "hazards_hazard", "rating_drillrecord", "rating_starassessment"):
        expected |= _bodies(stale_triggers_sql("rating_annualfigures", source)[0])
    assert len(expected) == 9
    with connection.cursor() as cur:
        cur.execute("SELECT proname, prosrc FROM pg_proc WHERE proname = ANY(%s)", [list(expected)])
        stored = {name: " ".join(body.split()) for name, body in cur.fetchall()}
    assert stored == expected
    assert all("WHERE NOT stale" not in body for name, body in stored.items() if name.endswith("_stale"))
