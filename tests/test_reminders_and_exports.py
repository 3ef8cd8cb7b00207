import io
from datetime import date, datetime, timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone
from openpyxl import load_workbook

from gis_app.hazards import services
from gis_app.hazards.exports import Scope, export_ledger
from gis_app.hazards.reminders import send_reminders
from gis_app.jobs.models import Job
from gis_app.jobs.services import run_pending, schedule_daily
from gis_app.notifications.models import Notification


@pytest.fixture
def due_soon(world, clock_at):
    clock_at(date(2026, 11, 1))
    return services.report_hazard(care_home=world["home_a"], description="灭火器过期", by=world["users"]["bureau"],
                                  due_on=date(2026, 11, 20))  # fmt: skip


def test_reminder_before_the_deadline_then_escalation_after_it_each_once(due_soon, world, clock_at):
    home_user, bureau, street = world["users"]["care_home"], world["users"]["bureau"], world["users"]["subdistrict"]
    assert send_reminders(date(2026, 11, 10)) == {"reminded": 0, "escalated": 0}
    assert send_reminders(date(2026, 11, 17)) == {"reminded": 1, "escalated": 0}
    assert send_reminders(date(2026, 11, 18)) == {"reminded": 0, "escalated": 0}  # not twice
    [n] = Notification.objects.filter(user=home_user)
    assert "即将到期" in n.title and "还剩 3 天" in n.body
    counts = send_reminders(date(2026, 11, 21))
    assert counts["escalated"] >= 2  # the bureau user(s) and the 街镇 office of the home
    assert Notification.objects.filter(user=bureau, title__contains="逾期").count() == 1
    assert Notification.objects.filter(user=street, title__contains="逾期").count() == 1
    assert not Notification.objects.filter(user=world["users"]["other_home"]).exists()
    assert send_reminders(date(2026, 11, 22))["escalated"] == 0
    # A new deadline is a new story: the next overdue is escalated again.
    services.assign(due_soon, by=bureau, responsible_person="张三", due_on=date(2026, 11, 25))
    assert send_reminders(date(2026, 11, 26))["escalated"] >= 2


def test_closed_hazards_are_not_chased(due_soon, world, photo):
    services.fix_on_spot(due_soon, by=world["users"]["bureau"], note="已更换", evidence=[photo()])
    assert send_reminders(date(2026, 11, 25)) == {"reminded": 0, "escalated": 0}


def test_the_daily_job_is_scheduled_once_a_day_and_runs(due_soon, world, settings, clock_at):
    settings.DAILY_JOBS_HOUR = 7
    early = timezone.make_aware(datetime(2026, 11, 21, 6, 0))
    assert schedule_daily(early) == 0
    late = timezone.make_aware(datetime(2026, 11, 21, 8, 0))
    from gis_app.jobs.registry import DAILY

    assert schedule_daily(late) == len(DAILY) >= 2 and schedule_daily(late) == 0
    assert set(DAILY) >= {"hazards.daily_reminders", "risk.daily_recompute"}
    run_pending()
    job = Job.objects.get(kind="hazards.daily_reminders")
    assert job.status == "succeeded" and job.result["escalated"] >= 2


def test_notifications_page_and_unread_count(client, due_soon, world):
    send_reminders(date(2026, 11, 17))
    client.force_login(world["users"]["care_home"])
    page = client.get("/map/").content.decode()
    assert 'class="notif-count">1<' in page
    n = Notification.objects.get(user=world["users"]["care_home"])
    response = client.post(f"/notifications/{n.pk}/open/")
    assert response.status_code == 302 and response["Location"] == f"/hazards/{due_soon.pk}/"
    n.refresh_from_db()
    assert n.read_at is not None


# The three lists in Excel


@pytest.fixture
def ledger(world, photo, clock_at):
    clock_at(date(2026, 11, 30))
    bureau = world["users"]["bureau"]
    a = services.report_hazard(care_home=world["home_a"], description='=HYPERLINK("http://x","点我")', by=bureau,
                               found_on=date(2026, 10, 1), due_on=date(2026, 10, 31))  # fmt: skip
    b = services.report_hazard(
        care_home=world["home_b"], description="疏散指示标志损坏", by=bureau, found_on=date(2026, 11, 2)
    )
    services.fix_on_spot(b, by=bureau, note="已更换", evidence=[photo()])
    return a, b


def read(data) -> dict:
    wb = load_workbook(io.BytesIO(data) if isinstance(data, bytes) else data)
    return {ws.title: ws for ws in wb.worksheets}


def test_the_three_lists_read_back_cell_by_cell(ledger, world):
    a, b = ledger
    buf = io.BytesIO()
    rows = export_ledger(buf, Scope.parse(f"carehome:{world['home_a'].pk}"))
    assert rows == 3
    sheets = read(buf.getvalue())
    assert list(sheets) == ["隐患问题清单", "整改责任清单", "整改落实清单"]
    ws = sheets["隐患问题清单"]
    assert ws["A1"].value.startswith("隐患问题清单 · " + world["home_a"].name)
    assert [c.value for c in ws[2]] == [
        "序号",
        "养老机构",
        "街镇",
        "重点部位",
        "隐患类别",
        "隐患描述",
        "未通过的检查项",
        "等级",
        "判定条款",
        "发现日期",
        "发现方式",
        "状态",
    ]
    assert ws.freeze_panes == "A3" and ws.auto_filter.ref == "A2:L3"
    row = [c.value for c in ws[3]]
    assert row[:3] == [1, world["home_a"].name, "塘沽街道"]
    assert row[9] == datetime(2026, 10, 1) and ws["J3"].is_date and ws["J3"].number_format == "yyyy-mm-dd"
    # Formula injection: the text arrives as text, never as a formula.
    assert ws["F3"].data_type == "s" and ws["F3"].value == "'" + a.description
    resp = sheets["整改责任清单"]
    assert [c.value for c in resp[3]][8:] == ["是", 30]  # overdue by 30 days on 2026-11-30
    assert resp.column_dimensions["C"].width == 48


def test_district_export_and_its_scope(ledger, world):
    buf = io.BytesIO()
    export_ledger(buf, Scope.parse("district", world["users"]["care_home"]))
    ws = read(buf.getvalue())["整改落实清单"]
    assert ws.max_row == 3  # the home's user sees only its own hazard
    buf = io.BytesIO()
    export_ledger(buf, Scope.parse("district"))
    ws = read(buf.getvalue())["整改落实清单"]
    assert ws.max_row == 4 and ws["I4"].value == "已销号" and ws["H4"].is_date
    with pytest.raises(ValueError, match="没有区划代码"):
        Scope.parse("subdistrict:999")
    with pytest.raises(ValueError, match="无权"):
        Scope.parse(f"carehome:{world['home_b'].pk}", world["users"]["care_home"])
    with pytest.raises(ValueError, match="范围格式"):
        Scope.parse("everything")


def test_export_command(ledger, tmp_path, capsys):
    out = tmp_path / "ledger.xlsx"
    call_command("export_ledger", "--scope", "subdistrict:120116031", "--out", str(out))
    assert "已导出 3 行" in capsys.readouterr().out
    assert read(str(out))["隐患问题清单"]["F3"].value == "疏散指示标志损坏"


def test_export_from_the_web_runs_as_a_job_and_downloads(client, ledger, world):
    client.force_login(world["users"]["bureau"])
    response = client.post("/hazards/export/", {"scope": "district"})
    job = Job.objects.get(kind="hazards.export_ledger")
    assert response["Location"] == f"/jobs/{job.pk}/"
    run_pending()
    job.refresh_from_db()
    assert job.status == "succeeded" and job.result["rows"] == 6
    download = client.get(f"/jobs/{job.pk}/download/")
    assert download.status_code == 200
    assert read(b"".join(download.streaming_content))["隐患问题清单"].max_row == 4
    client.force_login(world["users"]["care_home"])
    assert client.get(f"/jobs/{job.pk}/download/").status_code == 404


def test_ledger_page_filters_and_overdue_marking(client, ledger, world):
    client.force_login(world["users"]["bureau"])
    page = client.get("/hazards/?overdue=on").content.decode()
    assert "点我" in page and "疏散指示标志损坏" not in page and "逾期 30 天" in page
    page = client.get("/hazards/?status=closed").content.decode()
    assert "疏散指示标志损坏" in page and "点我" not in page
    page = client.get(f"/hazards/?home={world['home_b'].pk}").content.decode()
    assert "疏散指示标志损坏" in page and "点我" not in page
    client.force_login(world["users"]["care_home"])
    page = client.get("/hazards/").content.decode()
    assert "点我" in page and "疏散指示标志损坏" not in page
    assert client.get(f"/hazards/{ledger[1].pk}/").status_code == 404


def test_photos_are_served_only_within_scope(client, ledger, world):
    photo = ledger[1].photos.get()
    url = photo.image.url
    client.force_login(world["users"]["bureau"])
    assert client.get(url).status_code == 200
    client.force_login(world["users"]["care_home"])
    assert client.get(url).status_code == 404
    client.logout()
    assert client.get(url).status_code == 404


def test_hazard_api_actions_answer_with_codes(client, ledger, world, photo):
    a, _ = ledger
    client.force_login(world["users"]["care_home"])
    r = client.post(f"/api/hazards/{a.pk}/actions/close_out/", {}, content_type="application/json")
    assert r.status_code == 403 and r.json()["code"] == "forbidden"
    r = client.post(f"/api/hazards/{a.pk}/actions/start/", {}, content_type="application/json")
    assert r.status_code == 409 and r.json()["code"] == "invalid_transition"
    r = client.post(
        f"/api/hazards/{a.pk}/actions/assign/", {"responsible_person": "张三"}, content_type="application/json"
    )
    assert r.status_code == 200 and r.json()["properties"]["status"] == "assigned"
    assert client.post(f"/api/hazards/{a.pk}/actions/explode/", {}).status_code == 400
    data = client.get("/api/hazards/?status=open").json()
    assert [f["id"] for f in data["features"]] == [a.pk] and data["features"][0]["properties"]["is_overdue"]


def test_hazard_pages_walk_the_lifecycle_through_forms(client, world, photo):
    bureau, home = world["users"]["bureau"], world["users"]["care_home"]
    client.force_login(home)
    response = client.post(f"/carehomes/{world['home_a'].pk}/hazards/new/", {
        "description": "电动车在楼道充电", "category": "ebike", "severity": "general", "found_on": date.today().isoformat(),
    })  # fmt: skip
    hazard = world["home_a"].hazards.get(description="电动车在楼道充电")
    assert response["Location"] == f"/hazards/{hazard.pk}/"
    client.post(f"/hazards/{hazard.pk}/do/assign/", {"responsible_person": "张三"})
    client.post(f"/hazards/{hazard.pk}/do/start/", {})
    response = client.post(f"/hazards/{hazard.pk}/do/submit/", {"comment": "已移至充电棚"}, follow=True)
    assert "提交复查需要上传整改后照片" in response.content.decode()
    client.post(f"/hazards/{hazard.pk}/do/submit/", {"comment": "已移至充电棚", "photos": photo()})
    hazard.refresh_from_db()
    assert hazard.status == "submitted"
    response = client.post(f"/hazards/{hazard.pk}/do/verify/", {}, follow=True)
    assert "无权" in response.content.decode()
    client.force_login(bureau)
    client.post(f"/hazards/{hazard.pk}/do/verify/", {})
    client.post(f"/hazards/{hazard.pk}/do/close_out/", {})
    hazard.refresh_from_db()
    assert hazard.status == "closed"
    page = client.get(f"/hazards/{hazard.pk}/").content.decode()
    for label in ("上报", "交办", "开始整改", "提交复查", "复查通过", "销号"):
        assert label in page


def test_the_missed_checks_page(client, world):
    client.force_login(world["users"]["subdistrict"])
    page = client.get("/inspections/missed/").content.decode()
    assert world["home_a"].name in page and world["home_b"].name not in page
    assert "每日（防火巡查）" in page
    # a street office sees its own 街镇 named, no "全部街镇" choice, and exports what it sees
    assert "全部街镇" not in page and world["tanggu"].name in page[: page.index("</h1>")]
    response = client.get("/inspections/missed/?format=xlsx")
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    book = load_workbook(io.BytesIO(response.content))
    homes = book["按养老机构"]
    assert world["tanggu"].name in homes["A1"].value and "漏检统计" in homes["A1"].value
    names = [row[0] for row in homes.iter_rows(values_only=True)]
    assert world["home_a"].name in names and world["home_b"].name not in names
    assert book["按街镇"].max_row >= 3
    # drill-down: the home's missed count links to its missed days and shifts, exported as 漏检明细
    home = world["home_a"]
    link = f"home={home.pk}#missed-detail"
    assert link in page
    detail = client.get(f"/inspections/missed/?home={home.pk}").content.decode()
    assert f"漏检明细 · {home.name}" in detail and "班" in detail
    book = load_workbook(io.BytesIO(client.get(f"/inspections/missed/?home={home.pk}&format=xlsx").content))
    sheet = book["漏检明细"]
    assert home.name in sheet["A1"].value and sheet.max_row > 3
    assert client.get(f"/inspections/missed/?home={world['home_b'].pk}").status_code == 404  # another 街镇's home


def test_missed_checks_are_paged_with_the_summary_over_all_homes(client, world, monkeypatch):
    from gis_app.inspections import views

    monkeypatch.setattr(views, "MISSED_PAGE", 1)
    client.force_login(world["users"]["bureau"])
    first = client.get("/inspections/missed/")
    second = client.get("/inspections/missed/?page=2")
    assert len(first.context["rows"]) == len(second.context["rows"]) == 1
    assert first.context["rows"][0]["home"] != second.context["rows"][0]["home"]
    homes = first.context["homes_total"]
    assert homes >= 2 and f"第 1 / {homes} 页" in first.content.decode()
    assert sum(n for _, (n, _) in first.context["by_subdistrict"]) == homes  # the summary counts every home


def test_the_demo_ledger_is_generated_once(db, clock_at):
    from gis_app.hazards.demo import load_demo_ledger
    from gis_app.hazards.models import Hazard, SupervisionListing
    from gis_app.inspections.models import Inspection

    load_demo_ledger()
    counts = (Inspection.objects.count(), Hazard.objects.count())
    assert counts[0] > 5000 and counts[1] >= 30
    assert Hazard.objects.overdue().exists() and Hazard.objects.closed().exists()
    assert SupervisionListing.objects.count() == 1
    assert all(h.events.exists() for h in Hazard.objects.all())
    load_demo_ledger()
    assert (Inspection.objects.count(), Hazard.objects.count()) == counts


def test_ledger_timestamps_follow_the_clock(world, clock_at):
    when = clock_at(date(2026, 1, 5))
    h = services.report_hazard(care_home=world["home_a"], description="x", by=world["users"]["bureau"])
    assert h.found_on == date(2026, 1, 5) and h.events.get().at == when
    assert h.due_on == date(2026, 1, 5) + timedelta(days=30)


def test_a_lists_title_names_the_scope_the_user_sees(world):
    assert Scope.parse("district").label == "滨海新区"
    assert Scope.parse("district", world["users"]["bureau"]).label == "滨海新区"
    assert Scope.parse("district", world["users"]["subdistrict"]).label == world["tanggu"].name
    assert Scope.parse("district", world["users"]["care_home"]).label == world["home_a"].name


def test_the_daily_run_makes_the_same_few_queries_for_3_or_60_hazards(world, clock_at, django_assert_max_num_queries):
    """Set-based reminders (#20): one statement per kind of notice, whatever the number of hazards."""
    clock_at(date(2026, 11, 1))
    bureau = world["users"]["bureau"]

    def report(n: int, home) -> None:
        for i in range(n):
            services.report_hazard(care_home=home, description=f"逾期隐患{i}", by=bureau, due_on=date(2026, 11, 5))

    report(3, world["home_a"])
    with django_assert_max_num_queries(12) as few:
        small = send_reminders(date(2026, 11, 10))
    report(57, world["home_b"])
    with django_assert_max_num_queries(12) as many:
        large = send_reminders(date(2026, 11, 10))
    assert len(many.captured_queries) <= len(few.captured_queries) + 2
    supervisors_a = Notification.objects.filter(dedupe_key__contains=":overdue:", user=world["users"]["subdistrict"])
    assert small["escalated"] >= 3 * 2 and supervisors_a.count() == 3  # bureau + home A's 街镇 office, per hazard
    assert large["escalated"] >= 57 and Notification.objects.filter(user=world["users"]["other_home"]).count() == 57
    assert send_reminders(date(2026, 11, 10)) == {"reminded": 0, "escalated": 0}  # each notice once


def test_the_notices_say_what_is_due_and_what_is_late_and_are_emailed_once(world, clock_at, settings):
    """The texts written by PostgreSQL: the home, the first 60 characters, the deadline, the days left or late, the
    responsible person (or 未指定), the severity's label, the hazard's page; each new notice e-mailed once."""
    from django.core import mail

    settings.EMAIL_NOTIFICATIONS = True
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    bureau, home_user = world["users"]["bureau"], world["users"]["care_home"]
    type(bureau).objects.filter(pk=bureau.pk).update(email="bureau@example.org")
    type(home_user).objects.filter(pk=home_user.pk).update(email="")
    clock_at(date(2026, 11, 1))
    long_text = "消防通道" * 20  # 80 characters
    soon = services.report_hazard(
        care_home=world["home_a"], description=long_text, by=bureau, due_on=date(2026, 11, 12)
    )
    late = services.report_hazard(
        care_home=world["home_a"], description="灭火器过期", by=bureau, due_on=date(2026, 11, 8)
    )
    from gis_app.inspections.models import Criterion

    late.severity, late.criterion, late.responsible_person = "major", Criterion.objects.first(), "李四"
    late.save(update_fields=["severity", "criterion", "responsible_person"])
    counts = send_reminders(date(2026, 11, 10))
    supervisors = Notification.objects.filter(dedupe_key=f"hazard:{late.pk}:overdue:2026-11-08").exclude(user=home_user)
    assert counts == {"reminded": 1, "escalated": supervisors.count()} and counts["escalated"] >= 2
    home = world["home_a"].name
    [due] = Notification.objects.filter(user=home_user, dedupe_key=f"hazard:{soon.pk}:due:2026-11-12")
    assert due.title == f"隐患整改即将到期：{home}"
    assert due.body == f"{long_text[:60]}；整改期限 2026-11-12（还剩 2 天），责任人 未指定"
    assert due.link == f"/hazards/{soon.pk}/"
    up = Notification.objects.get(user=bureau, dedupe_key=f"hazard:{late.pk}:overdue:2026-11-08")
    assert (
        up.title == f"隐患逾期未整改：{home}" and up.body == "灭火器过期；整改期限 2026-11-08，已逾期 2 天（重大隐患）"
    )
    told = Notification.objects.get(user=home_user, dedupe_key=f"hazard:{late.pk}:overdue:2026-11-08")
    assert told.title == f"隐患已逾期：{home}" and told.body == up.body
    addressed = sorted(n.user.email for n in Notification.objects.select_related("user") if n.user.email)
    assert sorted(m.to[0] for m in mail.outbox) == addressed and "bureau@example.org" in addressed
    assert {m.subject for m in mail.outbox if m.to == ["bureau@example.org"]} == {up.title}
    up.refresh_from_db()
    assert up.emailed and not told.emailed
    assert send_reminders(date(2026, 11, 10)) == {"reminded": 0, "escalated": 0} and len(mail.outbox) == len(addressed)
