import io
from datetime import date

import pytest
from openpyxl import load_workbook

from gis_app.hazards import dishonesty, services
from gis_app.hazards.models import Accident, AccidentResponsibility, DishonestyListEntry
from gis_app.hazards.services import HazardError
from gis_app.inspections.models import Criterion
from gis_app.public.views import mask_phone


@pytest.fixture
def overdue_major(world, clock_at):
    clock_at(date(2026, 6, 1))
    h = services.report_hazard(care_home=world["home_a"], description="疏散楼梯被封堵", by=world["users"]["bureau"],
                               severity="major", criterion=Criterion.objects.get(code="MCA2023-2-5"),
                               due_on=date(2026, 9, 1))  # fmt: skip
    return h


def test_candidates_follow_the_clock_and_accepted_reasons(overdue_major, world, clock_at):
    assert dishonesty.candidates(date(2026, 9, 1)) == []  # due today: not yet overdue
    [c] = dishonesty.candidates(date(2026, 9, 2))
    assert c.care_home == world["home_a"] and c.hazard == overdue_major and "逾期 1 天" in c.basis
    overdue_major.delay_reason, overdue_major.delay_reason_accepted = "等待消防设计审批", True
    overdue_major.save()
    assert dishonesty.candidates(date(2026, 9, 2)) == []
    overdue_major.delay_reason_accepted = False
    overdue_major.save()
    assert "未被认可" in dishonesty.candidates(date(2026, 9, 2))[0].basis


def test_general_or_closed_hazards_are_not_candidates(world, photo, clock_at):
    clock_at(date(2026, 6, 1))
    services.report_hazard(
        care_home=world["home_a"], description="x", by=world["users"]["bureau"], due_on=date(2026, 6, 5)
    )
    assert dishonesty.candidates(date(2026, 7, 1)) == []


def test_persons_punished_for_an_accident_are_candidates(world):
    accident = Accident.objects.create(
        care_home=world["home_b"], occurred_on=date(2026, 3, 1), description="电动车充电起火"
    )
    r = AccidentResponsibility.objects.create(accident=accident, person_name="赵某", degree="direct")
    assert dishonesty.candidates(date(2026, 9, 1)) == []  # not yet punished
    r.punished_on = date(2026, 5, 1)
    r.save()
    [c] = dishonesty.candidates(date(2026, 9, 1))
    assert c.person_name == "赵某" and "直接责任" in c.basis


def test_the_bureau_decides_and_listed_ones_are_no_longer_candidates(overdue_major, world):
    [c] = dishonesty.candidates(date(2026, 9, 2))
    with pytest.raises(HazardError) as err:
        dishonesty.list_entry(by=world["users"]["fire_rescue"], candidate=c, removal_on=date(2029, 9, 2))
    assert err.value.code == "forbidden"
    with pytest.raises(HazardError) as err:
        dishonesty.list_entry(
            by=world["users"]["bureau"], candidate=c, removal_on=date(2026, 9, 2), listed_on=date(2026, 9, 2)
        )
    assert err.value.code == "invalid_due_date"
    entry = dishonesty.list_entry(
        by=world["users"]["bureau"], candidate=c, removal_on=date(2029, 9, 2), listed_on=date(2026, 9, 2)
    )
    assert dishonesty.candidates(date(2026, 9, 3)) == []
    assert list(DishonestyListEntry.objects.current(date(2027, 1, 1))) == [entry]
    assert not DishonestyListEntry.objects.current(date(2029, 9, 2)).exists()  # expired
    dishonesty.remove_entry(entry, by=world["users"]["bureau"], on=date(2027, 1, 1))
    assert not DishonestyListEntry.objects.current(date(2027, 1, 2)).exists()


def test_the_internal_pages_and_the_notice(client, overdue_major, world, clock_at):
    clock_at(date(2026, 9, 2))
    client.force_login(world["users"]["subdistrict"])
    assert client.get("/dishonesty/").status_code == 403
    client.force_login(world["users"]["bureau"])
    page = client.get("/dishonesty/").content.decode()
    assert "疏散楼梯被封堵" in page
    response = client.post("/dishonesty/", {"candidate": f"hazard:{overdue_major.pk}", "removal_on": "2029-09-02"})
    entry = DishonestyListEntry.objects.get()
    assert response["Location"] == f"/dishonesty/{entry.pk}/notice/"
    notice = client.get(response["Location"]).content.decode()
    assert world["home_a"].name in notice and "列入依据" in notice and "区市场监管局" in notice
    wb = load_workbook(io.BytesIO(client.get(f"/dishonesty/{entry.pk}/notice.xlsx").content))
    ws = wb.active
    assert ws["A1"].value.startswith("关于将") and ws["B3"].value == world["home_a"].name
    assert ws["B7"].value == entry.listed_on.isoformat() or ws["B7"].is_date


def test_mask_phone():
    assert mask_phone("13800220015") == "138****0015"
    assert mask_phone("022-25881234") == "022****1234"
    assert mask_phone("") == "—"


def test_the_public_page_shows_what_it_must_and_nothing_else(client, overdue_major, world, clock_at):
    clock_at(date(2026, 9, 2))
    home = world["home_a"]
    home.fire_safety_owner, home.fire_safety_owner_phone = "钱院长", "13912345678"
    home.fire_safety_manager, home.fire_safety_manager_phone = "孙主任", "13787654321"
    home.commitment_on = date(2020, 9, 1)
    home.save()
    [c] = dishonesty.candidates()
    dishonesty.list_entry(by=world["users"]["bureau"], candidate=c, removal_on=date(2029, 9, 2))
    client.logout()
    page = client.get(f"/public/?q={home.name}").content.decode()
    for must in (
        home.name,
        home.address,
        "塘沽街道",
        "钱院长",
        "孙主任",
        "2020-09-01",
        "139****5678",
        "137****4321",
        "暂未评定",
    ):
        assert must in page, must
    for must_not in (
        "13912345678",
        "13787654321",
        home.credit_code,
        'href="/hazards/',
        'href="/admin/',
        "整改期限 2026",
    ):
        assert must_not not in page, must_not
    assert "失信联合惩戒名单" in page and home.name in page
    # the dishonesty list shows the basis the bureau published, but hazard pages stay closed to the public
    assert client.get(f"/hazards/{overdue_major.pk}/").status_code == 302
    assert client.get("/api/carehomes/").status_code == 401
    suspended = world["home_b"]
    suspended.status = "suspended"
    suspended.save()
    assert suspended.name not in client.get("/public/").content.decode()
    page = client.get("/public/?subdistrict=120116031").content.decode()
    assert home.name not in page.split('id="public-homes"')[1]


def test_the_public_page_costs_the_same_few_queries_whatever_the_number_of_homes(
    client, world, django_assert_max_num_queries
):
    """Each listed home's 街镇 contact came with its own query (50 a page); now the page's queries do not grow with it."""
    with django_assert_max_num_queries(12):
        page = client.get("/public/")
    assert page.status_code == 200 and len(page.context["rows"]) >= 50
