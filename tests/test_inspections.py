from datetime import date, timedelta

import pytest

from gis_app.hazards.models import Hazard, Status
from gis_app.inspections.models import (
    CheckItem,
    ChecklistVersion,
    Frequency,
    Inspection,
    next_period_start,
    period_start,
)
from gis_app.inspections.schedule import missed_periods, schedule_status
from gis_app.inspections.services import InspectionError, InspectionInput, ItemAnswer, record_inspection


def answers_for(version, frequency=None, fail=(), note="发现问题"):
    items = version.items.filter(frequency=frequency) if frequency else version.items.all()
    return [ItemAnswer(i.code, "fail" if i.code in fail else "pass", note if i.code in fail else "") for i in items]


def test_the_catalogue_is_versioned_with_items_per_key_place_and_frequency(db):
    v2020 = ChecklistVersion.in_force(date(2021, 5, 1))
    v2023 = ChecklistVersion.in_force(date(2026, 1, 1))
    assert (v2020.code, v2023.code) == ("BH-2020", "BH-2023")
    assert set(v2023.items.values_list("frequency", flat=True)) == set(Frequency.values)
    item = v2023.items.get(code="X01")
    assert item.major_criterion.code == "MCA2023-2-5" and item.legal_basis and item.responsible_post
    assert v2020.items.get(code="X01").major_criterion.criterion_set.code == "GB35181-2017"
    assert ChecklistVersion.in_force(date(2019, 1, 1)) is None


def test_criterion_sets_know_when_they_are_in_force(db):
    from gis_app.inspections.models import CriterionSet

    gb2017, gb2025 = CriterionSet.objects.get(code="GB35181-2017"), CriterionSet.objects.get(code="GB35181-2025")
    assert gb2017.in_force_on(date(2025, 10, 31)) and not gb2017.in_force_on(date(2025, 11, 1))
    assert gb2025.in_force_on(date(2025, 11, 1))


def test_loading_the_catalogue_twice_changes_nothing(db):
    from gis_app.inspections.catalogue import load_catalogue

    before = CheckItem.objects.count()
    assert load_catalogue() == {"key_places": 0, "criteria": 0, "items": 0}
    assert CheckItem.objects.count() == before


def test_a_failed_item_becomes_a_prefilled_hazard_in_the_same_transaction(world):
    version = ChecklistVersion.in_force()
    inspection = record_inspection(
        InspectionInput(care_home=world["home_a"], kind="patrol", inspected_on=date.today(), signed_by_name="王科长",
                        answers=answers_for(version, fail={"L01", "X01"}, note="通道被占用")),
        by=world["users"]["bureau"],
    )  # fmt: skip
    hazards = {h.check_result.item.code: h for h in inspection.hazards.all()}
    assert set(hazards) == {"L01", "X01"}
    lane, exit_ = hazards["L01"], hazards["X01"]
    assert lane.severity == "general" and lane.category == "fire_lane" and lane.key_place.code == "fire_lane"
    assert exit_.severity == "major" and exit_.criterion.code == "MCA2023-2-5"
    assert lane.status == Status.REPORTED and lane.found_on == date.today() and "通道被占用" in lane.description
    assert inspection.inspectors.get().name == "王科长"


def test_a_bad_inspection_stores_nothing(world):
    version = ChecklistVersion.in_force()
    answers = answers_for(version, fail={"L01"}, note="")  # a failed item without a note
    before = (Inspection.objects.count(), Hazard.objects.count())
    with pytest.raises(InspectionError) as err:
        record_inspection(
            InspectionInput(care_home=world["home_a"], kind="patrol", inspected_on=date.today(), signed_by_name="",
                            answers=answers + [ItemAnswer("NOPE", "pass")]),
            by=world["users"]["bureau"],
        )  # fmt: skip
    assert set(err.value.errors) == {"signed_by_name", "item:L01", "item:NOPE"}
    assert (Inspection.objects.count(), Hazard.objects.count()) == before


@pytest.mark.parametrize(
    ("role", "kind", "ok"),
    [("care_home", "self_check", True), ("care_home", "patrol", False), ("bureau", "covert", True),
     ("fire_rescue", "joint", True), ("third_party", "third_party", True), ("subdistrict", "self_check", False)],
)  # fmt: skip
def test_who_records_which_kind(world, role, kind, ok):
    version = ChecklistVersion.in_force()
    data = InspectionInput(care_home=world["home_a"], kind=kind, frequency="daily", inspected_on=date.today(),
                           signed_by_name="张三", answers=answers_for(version, "daily"))  # fmt: skip
    if ok:
        assert record_inspection(data, by=world["users"][role]).pk
    else:
        with pytest.raises(InspectionError):
            record_inspection(data, by=world["users"][role])


def test_another_home_cannot_be_inspected(world):
    version = ChecklistVersion.in_force()
    with pytest.raises(InspectionError, match="无权"):
        record_inspection(
            InspectionInput(care_home=world["home_b"], kind="self_check", frequency="daily", inspected_on=date.today(),
                            signed_by_name="张三", answers=answers_for(version, "daily")),
            by=world["users"]["care_home"],
        )  # fmt: skip


@pytest.mark.parametrize(
    ("frequency", "day", "start", "following"),
    [
        ("weekly", date(2026, 11, 26), date(2026, 11, 23), date(2026, 11, 30)),
        ("monthly", date(2026, 12, 31), date(2026, 12, 1), date(2027, 1, 1)),
        ("quarterly", date(2026, 5, 15), date(2026, 4, 1), date(2026, 7, 1)),
        ("half_yearly", date(2026, 9, 3), date(2026, 7, 1), date(2027, 1, 1)),
        ("yearly", date(2026, 9, 3), date(2026, 1, 1), date(2027, 1, 1)),
        ("daily", date(2026, 9, 3), date(2026, 9, 3), date(2026, 9, 4)),
    ],
)
def test_periods(frequency, day, start, following):
    assert period_start(frequency, day) == start
    assert next_period_start(frequency, start) == following


def test_due_done_and_missed_self_checks_on_a_fake_clock(world, clock_at, settings):
    home = world["home_a"]
    user = world["users"]["care_home"]
    version = ChecklistVersion.in_force()
    today = date(2026, 11, 30)  # a Monday
    clock_at(today)
    # Daily patrols on 5 of the last 7 days, none today; one weekly check last week.
    for back in (1, 2, 4, 5, 6):
        day = today - timedelta(days=back)
        record_inspection(InspectionInput(care_home=home, kind="self_check", frequency="daily", inspected_on=day,
                                          signed_by_name="张三", answers=answers_for(version, "daily")), by=user)  # fmt: skip
    record_inspection(InspectionInput(care_home=home, kind="self_check", frequency="weekly", inspected_on=today - timedelta(days=3),
                                      signed_by_name="张三", answers=answers_for(version, "weekly")), by=user)  # fmt: skip
    from gis_app.carehomes.models import CareHome

    status = {
        s.frequency: s
        for s in schedule_status(CareHome.objects.filter(pk=home.pk), today - timedelta(days=6), today)[home.pk]
    }
    daily = status["daily"]
    assert (daily.due, daily.done, daily.missed, daily.current_done) == (7, 5, 1, False)  # missed: 3 days ago
    assert daily.last_done_on == today - timedelta(days=1)
    weekly = status["weekly"]  # periods: the week of Nov 23 (done) and this week (due, not yet missed)
    assert (weekly.due, weekly.done, weekly.missed) == (2, 1, 0)
    shift = status["shift"]
    assert shift.missed == 6  # no shift checks at all: every finished day is missed
    # the drill-down names exactly the periods counted: the day 3 days ago, and each finished day's shifts (0 of 3)
    details = missed_periods(home.pk, today - timedelta(days=6), today)
    by_frequency = {f: [m for m in details if m.frequency == f] for f in status}
    assert {f: len(ms) for f, ms in by_frequency.items()} == {f: s.missed for f, s in status.items()}
    [day] = by_frequency["daily"]
    assert (day.start, day.end, day.done, day.need) == (today - timedelta(days=3),) * 2 + (0, 1)
    assert {(m.done, m.need) for m in by_frequency["shift"]} == {(0, settings.SHIFTS_PER_DAY)}
    assert [m.start for m in details] == sorted((m.start for m in details), reverse=True)
    settings.CHECKS_TRACKED_FROM = "2026-11-29"
    status = {
        s.frequency: s
        for s in schedule_status(CareHome.objects.filter(pk=home.pk), today - timedelta(days=6), today)[home.pk]
    }
    assert status["daily"].due == 2 and status["daily"].missed == 0


def test_api_records_an_inspection_with_the_same_rules(client, world):
    client.force_login(world["users"]["bureau"])
    version = ChecklistVersion.in_force()
    results = [{"item": i.code, "result": "pass"} for i in version.items.all()]
    results[0] = {"item": results[0]["item"], "result": "fail", "note": "插线板串接", "lon": 117.66, "lat": 39.02}
    payload = {"care_home": world["home_a"].pk, "kind": "joint", "inspected_on": date.today().isoformat(),
               "signed_by_name": "王科长", "inspectors": [{"name": "李参谋", "organisation": "消防救援支队"}], "results": results}  # fmt: skip
    response = client.post("/api/inspections/", payload, content_type="application/json")
    assert response.status_code == 201, response.json()
    assert len(response.json()["hazards"]) == 1
    hazard = Hazard.objects.get(pk=response.json()["hazards"][0])
    assert hazard.location is not None
    # The finding reads as the problem, at its key place; the failed item's criterion stays with the check result.
    failed_item = version.items.get(code=results[0]["item"])
    assert hazard.description == f"{failed_item.key_place.name}：插线板串接"
    assert failed_item.text not in hazard.description and hazard.check_result.item == failed_item
    bad = {**payload, "results": [{"item": "R01", "result": "maybe"}]}
    response = client.post("/api/inspections/", bad, content_type="application/json")
    assert response.status_code == 400 and "item:R01" in response.json()["errors"]
    other = {**payload, "care_home": 10**9}
    assert client.post("/api/inspections/", other, content_type="application/json").status_code == 404


def test_a_refused_checklist_comes_back_with_every_answer_and_photo_kept(world, photo):
    from django.test import Client

    from gis_app.inspections.models import ChecklistVersion, Inspection

    client = Client(enforce_csrf_checks=True)
    client.force_login(world["users"]["care_home"])
    url = f"/carehomes/{world['home_a'].pk}/inspections/new/?kind=self_check&frequency=daily"
    page = client.get(url)
    token, items = page.context["submission"], [i for _, its in page.context["groups"] for i in its]
    failed, other = items[0], items[1]
    form = {
        "csrfmiddlewaretoken": client.cookies["csrftoken"].value,
        "kind": "self_check",
        "frequency": "daily",
        "submission": token,
        "inspected_on": page.context["inspected_on"].isoformat(),
        "signed_by_name": "李院长",
        "inspector_name": ["李院长"],
        "inspector_org": ["本院"],
        "note": "夜班巡查",
        **{f"result_{i.code}": "pass" for i in items},
        f"result_{failed.code}": "fail",  # a failed item without a note: refused
        f"note_{other.code}": "已核对",
        f"photo_{failed.code}": photo("evidence.png"),
    }
    refused = client.post(url, form)
    assert refused.status_code == 200 and Inspection.objects.count() == 0
    html = refused.content.decode()
    assert 'id="error-summary"' in html and f'href="#item-{failed.code}"' in html
    assert f'name="result_{failed.code}" value="fail" checked' in html
    assert f'name="result_{other.code}" value="pass" required checked' in html
    assert 'value="已核对"' in html and "夜班巡查" in html and 'value="李院长"' in html and 'value="本院"' in html
    kept = refused.context["groups"][0][1][0].kept_photo
    assert kept and f'name="kept_photo_{failed.code}" value="{kept}"' in html
    # the user adds the note and posts again without choosing the photo again: it is saved with the result
    again = {k: v for k, v in form.items() if not k.startswith("photo_")}
    again[f"note_{failed.code}"] = "灭火器压力不足"
    again[f"kept_photo_{failed.code}"] = kept
    saved = client.post(url, again)
    assert saved.status_code == 302
    inspection = Inspection.objects.get()
    result = inspection.results.get(item__code=failed.code)
    assert result.photo and result.hazard is not None
    from django.core.files.storage import default_storage

    assert not default_storage.exists(kept)  # the temporary copy is gone once the checklist is saved
    # someone else's or a made-up kept name is never taken
    assert ChecklistVersion.objects.exists()
    from gis_app.inspections.views import kept_photo_name

    assert kept_photo_name(world["users"]["bureau"], token, failed.code, kept) is None
    assert kept_photo_name(world["users"]["care_home"], token, failed.code, "../../etc/passwd") is None


def test_photos_of_a_checklist_never_posted_again_are_cleaned_after_two_days(db, settings, tmp_path):
    import os
    import time

    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    from gis_app.inspections.jobs import forget_abandoned_photos

    old = default_storage.save("tmp/inspection/7/abcdef0123/R01.jpg", ContentFile(b"x"))
    fresh = default_storage.save("tmp/inspection/7/abcdef0123/R02.jpg", ContentFile(b"y"))
    three_days_ago = time.time() - 3 * 24 * 3600
    os.utime(default_storage.path(old), (three_days_ago, three_days_ago))
    assert forget_abandoned_photos(None, None)["removed"] == 1
    assert not default_storage.exists(old) and default_storage.exists(fresh)


def test_the_set_based_schedule_agrees_with_counting_period_by_period(world, clock_at, settings):
    """schedule_status (one SQL aggregate for any number of homes) against missed_periods and a count per period in
    Python, on random self-checks of every frequency over two homes and 100 days."""
    import random

    from django.db import connection

    from gis_app.carehomes.models import CareHome
    from gis_app.inspections.models import Frequency, InspectionKind, next_period_start, period_start

    today = date(2026, 11, 30)
    clock_at(today)
    version = ChecklistVersion.in_force(today)
    rng = random.Random(11)
    homes = [world["home_a"], world["home_b"]]
    rows = []
    for home in homes:
        for _ in range(220):
            day = today - timedelta(days=rng.randrange(0, 100))
            rows.append((home.pk, rng.choice(Frequency.values), day))
    with connection.cursor() as cur:  # straight in: record_inspection's checks are not what is measured here
        cur.executemany(
            "INSERT INTO inspections_inspection (kind, frequency, inspected_on, note, signed_by_name, signed_at,"
            " created_at, care_home_id, version_id) VALUES (%s, %s, %s, '', 't', now(), now(), %s, %s)",
            [(InspectionKind.SELF_CHECK, f, d, h, version.pk) for h, f, d in rows],
        )
    start, end = today - timedelta(days=75), today
    status = schedule_status(CareHome.objects.filter(pk__in=[h.pk for h in homes]), start, end)
    for home in homes:
        for s in status[home.pk]:
            f = s.frequency
            need = settings.SHIFTS_PER_DAY if f == Frequency.SHIFT else 1
            periods, p = [], period_start(f, max(start, date.fromisoformat(settings.CHECKS_TRACKED_FROM)))
            while p <= end:
                periods.append(p)
                p = next_period_start(f, p)
            counts = {
                q: sum(1 for h, ff, d in rows if h == home.pk and ff == f and period_start(f, d) == q) for q in periods
            }
            assert s.due == len(periods)
            assert s.done == sum(1 for q in periods if counts[q] >= need)
            assert s.missed == sum(1 for q in periods[:-1] if counts[q] < need)
            assert s.current_done == (counts[periods[-1]] >= need)
            assert s.missed == len([m for m in missed_periods(home.pk, start, end) if m.frequency == f])
