"""The ledger's lifecycle: every transition, every refusal with its code, who may do what, and the history."""

import io
import threading
from datetime import date, timedelta

import pytest
from django.db import DatabaseError, connection, connections, transaction

from gis_app.carehomes.models import Role
from gis_app.hazards import services
from gis_app.hazards.models import Hazard, HazardEvent, Status
from gis_app.hazards.services import HazardError
from gis_app.inspections.models import Criterion


@pytest.fixture
def hazard(world):
    return services.report_hazard(
        care_home=world["home_a"], description="消防车通道被车辆占用", by=world["users"]["bureau"]
    )


def codes(fn):
    with pytest.raises(HazardError) as err:
        fn()
    return err.value.code


def walk_to(hazard, status, users, photo):
    bureau, home = users["bureau"], users["care_home"]
    steps = [
        (Status.ASSIGNED, lambda: services.assign(hazard, by=home, responsible_person="张三")),
        (Status.RECTIFYING, lambda: services.start_rectification(hazard, by=home)),
        (
            Status.SUBMITTED,
            lambda: services.submit_for_verification(hazard, by=home, note="已清理", after_photos=[photo()]),
        ),
        (Status.VERIFIED, lambda: services.verify(hazard, by=bureau)),
        (Status.CLOSED, lambda: services.close_out(hazard, by=bureau)),
    ]
    for target, step in steps:
        if hazard.status == status:
            break
        step()
        hazard.refresh_from_db()
        assert hazard.status == target
    return hazard


def test_report_sets_default_due_date_and_records_history(hazard, settings):
    assert hazard.status == Status.REPORTED
    assert hazard.due_on == hazard.found_on + timedelta(days=settings.HAZARD_DUE_DAYS["general"])
    assert hazard.responsible_person == hazard.care_home.fire_safety_manager
    [event] = hazard.events.all()
    assert (event.action, event.from_status, event.to_status) == ("上报", "", Status.REPORTED)


def test_the_full_path_to_close_out(hazard, world, photo):
    walk_to(hazard, Status.CLOSED, world["users"], photo)
    hazard.refresh_from_db()
    assert hazard.closed_on and hazard.verified_by == world["users"]["bureau"]
    assert [(e.from_status, e.to_status) for e in hazard.events.all()] == [
        ("", "reported"), ("reported", "assigned"), ("assigned", "rectifying"), ("rectifying", "submitted"),
        ("submitted", "verified"), ("verified", "closed"),
    ]  # fmt: skip
    assert hazard.photos.filter(stage="after").count() == 1


def test_submit_needs_after_photos_and_a_note(hazard, world, photo):
    home = world["users"]["care_home"]
    walk_to(hazard, Status.RECTIFYING, world["users"], photo)
    assert codes(lambda: services.submit_for_verification(hazard, by=home, note="done")) == "after_photos_required"
    assert (
        codes(lambda: services.submit_for_verification(hazard, by=home, note=" ", after_photos=[photo()]))
        == "note_required"
    )
    hazard.refresh_from_db()
    assert hazard.status == Status.RECTIFYING and not hazard.photos.exists()  # nothing stored half-way


def test_verification_can_send_it_back(hazard, world, photo):
    walk_to(hazard, Status.SUBMITTED, world["users"], photo)
    fire = world["users"]["fire_rescue"]
    assert codes(lambda: services.send_back(hazard, by=fire, comment="")) == "comment_required"
    services.send_back(hazard, by=fire, comment="照片不清楚")
    hazard.refresh_from_db()
    assert hazard.status == Status.RECTIFYING and hazard.events.last().comment == "照片不清楚"


@pytest.mark.parametrize(
    ("status", "action"),
    [
        (Status.REPORTED, lambda h, u, p: services.close_out(h, by=u["bureau"])),
        (Status.REPORTED, lambda h, u, p: services.verify(h, by=u["bureau"])),
        (Status.REPORTED, lambda h, u, p: services.start_rectification(h, by=u["care_home"])),
        (
            Status.ASSIGNED,
            lambda h, u, p: services.submit_for_verification(h, by=u["care_home"], note="x", after_photos=[p()]),
        ),
        (Status.RECTIFYING, lambda h, u, p: services.fix_on_spot(h, by=u["bureau"], note="x", evidence=[p()])),
        (Status.CLOSED, lambda h, u, p: services.close_out(h, by=u["bureau"])),
        (Status.CLOSED, lambda h, u, p: services.close_unfixed(h, by=u["bureau"], comment="x")),
        (Status.SUBMITTED, lambda h, u, p: services.reopen(h, by=u["bureau"], comment="x")),
    ],
)
def test_invalid_transitions_are_refused_with_a_code(hazard, world, photo, status, action):
    walk_to(hazard, status, world["users"], photo)
    events = hazard.events.count()
    assert codes(lambda: action(hazard, world["users"], photo)) == "invalid_transition"
    hazard.refresh_from_db()
    assert hazard.status == status and hazard.events.count() == events


@pytest.mark.parametrize("role", ["care_home", "subdistrict", "no_role", "other_home"])
def test_only_bureau_fire_and_the_contracted_third_party_verify_and_close(hazard, world, photo, role):
    walk_to(hazard, Status.SUBMITTED, world["users"], photo)
    assert codes(lambda: services.verify(hazard, by=world["users"][role])) == "forbidden"
    for verifier in ("bureau", "fire_rescue", "third_party"):
        assert "verify" in services.allowed_actions(world["users"][verifier], hazard)


def test_a_third_party_without_a_contract_cannot_verify(world, make_user, photo):
    from gis_app.carehomes.models import SafetyServiceProvider

    other = SafetyServiceProvider.objects.create(name="别家服务机构")
    stranger = make_user("stranger", Role.THIRD_PARTY, safety_service=other)
    h = services.report_hazard(care_home=world["home_a"], description="x", by=world["users"]["bureau"])
    walk_to(h, Status.SUBMITTED, world["users"], photo)
    assert codes(lambda: services.verify(h, by=stranger)) == "forbidden"


def test_a_home_cannot_touch_another_homes_hazard(world, photo):
    h = services.report_hazard(care_home=world["home_b"], description="x", by=world["users"]["bureau"])
    assert codes(lambda: services.assign(h, by=world["users"]["care_home"], responsible_person="x")) == "forbidden"
    assert services.allowed_actions(world["users"]["care_home"], h) == []


def test_fix_on_spot_closes_in_one_step_with_evidence(hazard, world, photo):
    bureau = world["users"]["bureau"]
    assert codes(lambda: services.fix_on_spot(hazard, by=bureau, note="已挪走车辆")) == "evidence_required"
    assert (
        codes(lambda: services.fix_on_spot(hazard, by=world["users"]["care_home"], note="x", evidence=[photo()]))
        == "forbidden"
    )
    services.fix_on_spot(hazard, by=bureau, note="已挪走车辆", evidence=[photo()])
    hazard.refresh_from_db()
    assert hazard.status == Status.CLOSED and hazard.closed_on == hazard.verified_on


def test_closed_not_fixed_and_reopening_are_honest_states(hazard, world):
    bureau, fire = world["users"]["bureau"], world["users"]["fire_rescue"]
    assert codes(lambda: services.close_unfixed(hazard, by=fire, comment="机构已停业")) == "forbidden"
    assert codes(lambda: services.close_unfixed(hazard, by=bureau, comment="")) == "comment_required"
    services.close_unfixed(hazard, by=bureau, comment="机构已停业")
    hazard.refresh_from_db()
    assert hazard.status == Status.CLOSED_UNFIXED and not hazard.is_open
    services.reopen(hazard, by=fire, comment="机构复业，隐患仍在")
    hazard.refresh_from_db()
    assert hazard.status == Status.REOPENED and hazard.is_open and hazard.closed_on is None
    services.assign(hazard, by=bureau, responsible_person="李四", due_on=date.today() + timedelta(days=7))
    hazard.refresh_from_db()
    assert hazard.status == Status.ASSIGNED


def test_rectification_plan_for_a_hard_to_fix_hazard(hazard, world):
    home = world["users"]["care_home"]
    services.assign(hazard, by=home, responsible_person="张三")
    planned = hazard.found_on + timedelta(days=120)
    assert (
        codes(lambda: services.set_rectification_plan(hazard, by=home, measures="x", safeguards="", planned_on=planned))
        == "plan_incomplete"
    )
    services.set_rectification_plan(hazard, by=home, measures="改造疏散楼梯", safeguards="专人值守", planned_on=planned)
    hazard.refresh_from_db()
    assert hazard.status == Status.ASSIGNED and hazard.plan_due_on == planned and hazard.due_on == planned
    assert hazard.events.last().action == "制定整改方案"


def test_major_hazards_need_a_criterion(world):
    with pytest.raises(HazardError) as err:
        services.report_hazard(
            care_home=world["home_a"], description="x", by=world["users"]["bureau"], severity="major"
        )
    assert err.value.code == "criterion_required"


def test_reporting_is_scoped(world):
    assert (
        codes(
            lambda: services.report_hazard(care_home=world["home_b"], description="x", by=world["users"]["care_home"])
        )
        == "forbidden"
    )
    assert (
        codes(lambda: services.report_hazard(care_home=world["home_a"], description="x", by=world["users"]["no_role"]))
        == "forbidden"
    )


def test_history_cannot_be_changed_or_deleted(hazard):
    event = hazard.events.first()
    original = event.comment
    with pytest.raises(PermissionError):
        event.comment = "篡改"
        event.save()
    with pytest.raises(PermissionError):
        event.delete()
    # Not through the ORM either: the database itself refuses.
    for sql in (
        "UPDATE hazards_hazardevent SET comment = 'x' WHERE id = %s",
        "DELETE FROM hazards_hazardevent WHERE id = %s",
    ):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cur:
            cur.execute(sql, [event.pk])
    assert HazardEvent.objects.get(pk=event.pk).comment == original


def test_overdue_is_computed_from_the_clock(hazard, clock_at):
    clock_at(hazard.due_on)
    assert not hazard.is_overdue and not Hazard.objects.overdue().filter(pk=hazard.pk).exists()
    clock_at(hazard.due_on + timedelta(days=3))
    assert hazard.is_overdue and hazard.days_overdue == 3
    assert Hazard.objects.overdue().filter(pk=hazard.pk).exists()


# 挂牌督办


@pytest.fixture
def major(world):
    criterion = Criterion.objects.get(code="MCA2023-2-5")
    return services.report_hazard(
        care_home=world["home_a"],
        description="安全出口上锁",
        by=world["users"]["bureau"],
        severity="major",
        criterion=criterion,
    )


def test_listing_and_delisting_a_major_hazard(major, hazard, world, photo):
    bureau = world["users"]["bureau"]
    deadline = date.today() + timedelta(days=30)
    assert (
        codes(lambda: services.list_for_supervision(hazard, by=bureau, department="民政局", deadline=deadline))
        == "not_major"
    )
    assert (
        codes(
            lambda: services.list_for_supervision(
                major, by=world["users"]["fire_rescue"], department="x", deadline=deadline
            )
        )
        == "forbidden"
    )
    listing = services.list_for_supervision(major, by=bureau, department="滨海新区民政局", deadline=deadline)
    assert (
        codes(lambda: services.list_for_supervision(major, by=bureau, department="x", deadline=deadline))
        == "already_listed"
    )
    services.add_supervision_entry(listing, by=world["users"]["subdistrict"], note="街道已督促")
    assert (
        codes(lambda: services.add_supervision_entry(listing, by=world["users"]["care_home"], note="x")) == "forbidden"
    )
    assert codes(lambda: services.delist(listing, by=bureau)) == "hazard_not_closed"
    walk_to(major, Status.CLOSED, world["users"], photo)
    services.delist(listing, by=bureau, comment="已销号")
    listing.refresh_from_db()
    assert listing.delisted_on is not None
    assert codes(lambda: services.delist(listing, by=bureau)) == "already_delisted"
    assert [e.action for e in major.events.all()][-1] == "摘牌"


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_close_outs_exactly_one_wins(world, photo):
    bureau, fire = world["users"]["bureau"], world["users"]["fire_rescue"]
    hazard = services.report_hazard(care_home=world["home_a"], description="并发测试", by=bureau)
    walk_to(hazard, Status.VERIFIED, world["users"], photo)
    barrier = threading.Barrier(2)
    outcomes = []

    def close(user):
        try:
            barrier.wait()
            services.close_out(Hazard.objects.get(pk=hazard.pk), by=user)
            outcomes.append("won")
        except HazardError as exc:
            outcomes.append(exc.code)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=close, args=(u,)) for u in (bureau, fire)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["invalid_transition", "won"]
    hazard.refresh_from_db()
    assert hazard.status == Status.CLOSED
    assert hazard.events.filter(to_status=Status.CLOSED).count() == 1


def test_supervision_from_the_hazard_page(client, major, world):
    client.force_login(world["users"]["bureau"])
    deadline = (date.today() + timedelta(days=20)).isoformat()
    client.post(f"/hazards/{major.pk}/list/", {"department": "滨海新区民政局", "deadline": deadline})
    listing = major.listing
    client.force_login(world["users"]["subdistrict"])
    client.post(f"/supervision/{listing.pk}/entry/", {"note": "已到现场督促"})
    assert listing.entries.get().note == "已到现场督促"
    client.force_login(world["users"]["bureau"])
    page = client.post(f"/supervision/{listing.pk}/delist/", {}, follow=True).content.decode()
    assert "隐患销号后才能摘牌" in page
    client.force_login(world["users"]["other_home"])
    assert client.post(f"/supervision/{listing.pk}/entry/", {"note": "x"}).status_code == 404


def test_the_history_is_hash_chained_and_verify_ledger_names_where_it_breaks(world):
    from django.core.management import CommandError, call_command

    bureau = world["users"]["bureau"]
    first = services.report_hazard(care_home=world["home_a"], description="消防通道堆物", by=bureau)
    services.assign(first, by=bureau, responsible_person="张三")
    second = services.report_hazard(care_home=world["home_a"], description="灭火器过期", by=bureau)
    events = list(HazardEvent.objects.filter(hazard=first).order_by("id"))
    assert len(events) == 2 and all(len(e.hash) == 64 for e in events)
    assert events[0].prev_hash == "" and events[1].prev_hash == events[0].hash
    call_command("verify_ledger")  # intact

    # A superuser bypasses the append-only trigger and rewrites an entry's comment: named by verify_ledger.
    with connection.cursor() as cur:
        cur.execute("SET CONSTRAINTS ALL IMMEDIATE")  # this test's transaction still holds deferred checks
        cur.execute("ALTER TABLE hazards_hazardevent DISABLE TRIGGER hazards_event_append_only")
        cur.execute("UPDATE hazards_hazardevent SET comment = '已整改' WHERE id = %s", [events[0].pk])
        cur.execute("DELETE FROM hazards_hazardevent WHERE hazard_id = %s", [second.pk])
        cur.execute("ALTER TABLE hazards_hazardevent ENABLE TRIGGER hazards_event_append_only")
    out = io.StringIO()
    with pytest.raises(CommandError, match="校验未通过"):
        call_command("verify_ledger", stdout=out)
    report = out.getvalue()
    assert f"隐患 #{first.pk} 记录 #{events[0].pk}：内容与摘要不符" in report
    assert f"隐患 #{second.pk} （无记录）：没有任何处理记录" in report


def test_each_step_tells_who_acts_next(hazard, world, photo, django_capture_on_commit_callbacks):
    from gis_app.notifications.models import Notification

    users = world["users"]

    def titles(role):
        return [n.title for n in Notification.objects.filter(user=users[role]).order_by("pk")]

    home_name = world["home_a"].name
    with django_capture_on_commit_callbacks(execute=True):
        walk_to(hazard, Status.SUBMITTED, users, photo)
    # the home submitted: the bureau and the third party contracted to the home are asked to verify
    assert titles("bureau") == [f"隐患待复查：{home_name}"] and titles("third_party") == [f"隐患待复查：{home_name}"]
    assert titles("care_home") == [] and titles("subdistrict") == []  # nobody is told of their own step
    with django_capture_on_commit_callbacks(execute=True):
        services.send_back(hazard, by=users["bureau"], comment="照片看不清")
    assert titles("care_home") == [f"隐患复查未通过，已退回：{home_name}"]
    assert "照片看不清" in Notification.objects.filter(user=users["care_home"]).get().body
    hazard.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        services.submit_for_verification(hazard, by=users["care_home"], note="已重新清理", after_photos=[photo()])
        services.verify(hazard, by=users["third_party"])
        services.close_out(hazard, by=users["bureau"])
    assert titles("care_home")[1:] == [f"隐患复查通过：{home_name}", f"隐患已销号：{home_name}"]
    assert len(titles("bureau")) == 2 and len(titles("third_party")) == 2  # the second submission too
    assert all(n.link == f"/hazards/{hazard.pk}/" for n in Notification.objects.all())


def test_a_steps_notices_are_written_with_it_and_mailed_by_a_job(hazard, world, photo, settings, mailoutbox):
    """The notices of a step commit or roll back with it (no after-commit callback that could fail once the step is
    stored), and their e-mails go by a job, not while the person who took the step waits."""
    from django.contrib.auth import get_user_model
    from django.db import transaction

    from gis_app.jobs.models import Job
    from gis_app.jobs.services import run_pending
    from gis_app.notifications.models import Notification

    users = world["users"]
    settings.EMAIL_NOTIFICATIONS = True
    get_user_model().objects.filter(pk=users["care_home"].pk).update(email="home@example.cn")
    walk_to(hazard, Status.SUBMITTED, users, photo)
    hazard.refresh_from_db()
    before = Notification.objects.count()
    with pytest.raises(RuntimeError), transaction.atomic():  # a step rolled back takes its notice with it
        services.send_back(hazard, by=users["bureau"], comment="照片看不清")
        raise RuntimeError
    assert Notification.objects.count() == before and not Job.objects.filter(kind="notifications.email").exists()
    services.send_back(hazard, by=users["bureau"], comment="照片看不清")  # no on-commit callback needed
    assert Notification.objects.filter(user=users["care_home"], body__contains="照片看不清").exists()
    assert mailoutbox == [] and Job.objects.filter(kind="notifications.email").count() == 1
    run_pending()
    assert [m.to for m in mailoutbox] == [["home@example.cn"]] and "已退回" in mailoutbox[0].subject


def test_a_home_that_fixed_its_hazard_submits_it_in_one_step_and_verification_stays_apart(world, photo, client):
    home_user, bureau = world["users"]["care_home"], world["users"]["bureau"]
    found = services.report_hazard(care_home=world["home_a"], description="楼道灭火器过期", by=home_user)
    assert services.allowed_actions(home_user, found)[0] == "rectified"  # offered first to the home
    err = codes(lambda: services.rectified(found, by=home_user, note="", after_photos=[]))
    assert err == "evidence_required"
    with pytest.raises(HazardError) as both:
        services.rectified(found, by=home_user, note="", after_photos=[])
    assert "整改情况说明和整改后照片" in both.value.message  # both asked for at once, not one at a time
    services.rectified(found, by=home_user, note="已更换新灭火器", after_photos=[photo()])
    found.refresh_from_db()
    assert found.status == Status.SUBMITTED and found.photos.filter(stage="after").count() == 1
    assert found.responsible_person and found.rectified_on
    assert [e.action for e in found.events.all()] == ["上报", "已整改提交复查"]
    assert "rectified" not in services.allowed_actions(home_user, found) and "verify" not in services.allowed_actions(
        home_user, found
    )  # the home cannot verify its own fix
    services.verify(found, by=bureau)
    services.close_out(found, by=bureau)
    found.refresh_from_db()
    assert found.status == Status.CLOSED
    # the web page offers it first, with the photo input the step needs
    hazard = services.report_hazard(care_home=world["home_a"], description="疏散指示灯不亮", by=home_user)
    client.force_login(home_user)
    page = client.get(f"/hazards/{hazard.pk}/").content.decode()
    first = page.index('id="action-')
    assert page[first:].startswith('id="action-rectified"') and 'capture="environment"' in page


def test_the_rectification_notice_prints_the_finding_and_the_deadline_with_its_year(client, world, major):
    client.force_login(world["users"]["subdistrict"])
    page = client.get(f"/hazards/{major.pk}/notice/").content.decode()
    assert "消防安全隐患整改通知书" in page and world["home_a"].name in page and "安全出口上锁" in page
    assert major.due_on.strftime("%Y年") in page and "重大" in page and "MCA2023-2-5" in page
    assert "签收人" in page and "data-print" in page
    client.force_login(world["users"]["other_home"])
    assert client.get(f"/hazards/{major.pk}/notice/").status_code == 404


def test_the_supervision_lists_are_paged(client, world):
    criterion = Criterion.objects.get(code="MCA2023-2-5")
    for i in range(51):
        services.report_hazard(
            care_home=world["home_a"],
            description=f"重大隐患{i}",
            by=world["users"]["bureau"],
            severity="major",
            criterion=criterion,
        )
    client.force_login(world["users"]["bureau"])
    page = client.get("/hazards/supervision/").content.decode()
    assert "51 条" in page and page.count("重大隐患") >= 50 and 'id="pending-pager"' in page and "第 1 / 2 页" in page
    second = client.get("/hazards/supervision/", {"pending_page": 2}).content.decode()
    assert "重大隐患50" in second and "重大隐患0<" not in second


def test_the_ledgers_figures_come_from_one_pass_and_agree_with_direct_counts(client, world, photo):
    """The ledger's total, per-status and overdue figures (one aggregate) against counting each directly, for the
    bureau (every hazard, no join) and a 街镇 office (its own)."""
    from datetime import timedelta

    from gis_app.lib import clock

    hz = services

    bureau = world["users"]["bureau"]
    long_ago = clock.today() - timedelta(days=60)
    for home in (world["home_a"], world["home_b"]):
        hz.report_hazard(care_home=home, description="堆放杂物", by=bureau, found_on=long_ago, due_on=long_ago)
        hz.report_hazard(care_home=home, description="灭火器过期", by=bureau)
    closed = hz.report_hazard(care_home=world["home_a"], description="出口上锁", by=bureau, found_on=long_ago)
    hz.fix_on_spot(closed, by=bureau, note="当场打开", evidence=[photo()])
    for user, homes in ((bureau, None), (world["users"]["subdistrict"], [world["home_a"]])):
        client.force_login(user)
        page = client.get("/hazards/")
        mine = Hazard.objects.all() if homes is None else Hazard.objects.filter(care_home__in=homes)
        assert page.context["total"] == mine.count()
        assert page.context["overdue_count"] == mine.overdue().count() >= 1
        assert {v: n for _, n, v in page.context["status_counts"]} == {
            v: mine.filter(status=v).count() for v in Status.values
        }
        assert [h.pk for h in page.context["page"]] == list(
            mine.order_by("-found_on", "-id").values_list("pk", flat=True)
        )


def test_the_ledger_pages_by_key_forward_and_back_without_offset(client, world, monkeypatch):
    from datetime import timedelta

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from gis_app.hazards import views
    from gis_app.lib import clock

    monkeypatch.setattr(views, "LEDGER_PAGE", 3)
    bureau = world["users"]["bureau"]
    for n in range(8):  # several on one day: the id breaks the tie
        day = clock.today() - timedelta(days=n // 3)
        services.report_hazard(care_home=world["home_a"], description=f"隐患{n}", by=bureau, found_on=day)
    expected = list(Hazard.objects.order_by("-found_on", "-id").values_list("pk", flat=True))
    client.force_login(bureau)
    pages, url = [], "/hazards/"
    while url:
        with CaptureQueriesContext(connection) as sql:
            response = client.get(url)
        assert not any("OFFSET" in q["sql"].upper() for q in sql.captured_queries)
        page = response.context["page"]
        pages.append([h.pk for h in page])
        url = f"/hazards/?after={page.next_key}" if page.next_key else None
    assert [pk for p in pages for pk in p] == expected and [len(p) for p in pages] == [3, 3, 2]
    back = client.get(f"/hazards/?before={response.context['page'].previous_key}").context["page"]
    assert [h.pk for h in back] == pages[1] and back.previous_key is not None
    assert [h.pk for h in client.get("/hazards/?after=nonsense").context["page"]] == pages[0]  # a bad key: page 1
    assert "下一页" in client.get("/hazards/").content.decode()
