import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from gis_app.carehomes.models import SafetyServiceProvider
from gis_app.jobs import registry
from gis_app.jobs.models import Job, JobStatus
from gis_app.jobs.services import JobError, claim, enqueue, recover_stalled, run_now, run_pending

from .test_import_carehomes import row, xlsx


@pytest.fixture
def handlers(monkeypatch):
    calls = []

    def ok(job, progress):
        progress(1, 2, "一半", force=True)
        calls.append(job.params)
        return {"answer": 42}

    def flaky(job, progress):
        calls.append("try")
        if len(calls) < 2:
            raise RuntimeError("temporary")
        return {"ok": True}

    def user_error(job, progress):
        raise JobError("文件有问题")

    registry.get_handler("carehomes.import")  # autodiscover the real ones first
    monkeypatch.setitem(registry.HANDLERS, "test.ok", ok)
    monkeypatch.setitem(registry.HANDLERS, "test.flaky", flaky)
    monkeypatch.setitem(registry.HANDLERS, "test.user_error", user_error)
    return calls


def test_a_job_runs_once_and_keeps_its_result(db, handlers):
    job = enqueue(kind="test.ok", title="t", params={"x": 1})
    assert run_pending() == 1
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED and job.result == {"answer": 42} and job.percent == 100
    assert job.progress_done == 1 and job.message == "一半"
    assert run_pending() == 0 and handlers == [{"x": 1}]


def test_a_failing_job_is_retried_with_backoff_then_succeeds(db, handlers):
    job = enqueue(kind="test.flaky", title="t")
    run_pending()
    job.refresh_from_db()
    assert job.status == JobStatus.QUEUED and "将重试" in job.error and job.run_after > timezone.now()
    assert run_pending() == 0  # not before its back-off
    run_now(job)
    run_pending()
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED and job.attempts == 2
    assert _queue(job) == [("succeeded", 2)]  # one place in Procrastinate's queue, run twice


def test_a_user_error_fails_at_once_and_is_shown(db, handlers):
    job = enqueue(kind="test.user_error", title="t")
    run_pending()
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED and job.error == "文件有问题" and job.attempts == 1


def test_unknown_kinds_are_refused_when_enqueued(db):
    with pytest.raises(KeyError):
        enqueue(kind="no.such", title="t")


def _queue(job) -> list[tuple[str, int]]:
    """The job's entries in Procrastinate's queue: (status, attempts)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT status, attempts FROM procrastinate_jobs WHERE (args ->> 'job_id')::bigint = %s ORDER BY id",
            [job.pk],
        )
        return cursor.fetchall()


def _taken_by_a_worker_that_died(job) -> None:
    """As a worker leaves a job when it is killed: the job started, its queue entry `doing` for a worker whose last
    heartbeat is an hour old."""
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO procrastinate_workers (last_heartbeat) VALUES (now() - interval '1 hour') RETURNING id"
        )
        worker = cursor.fetchone()[0]
        cursor.execute("SELECT id FROM procrastinate_fetch_job_v2(NULL, %s)", [worker])
        entry = cursor.fetchone()[0]
    assert claim(job.pk, entry).pk == job.pk and claim(job.pk, entry + 1) is None  # another entry cannot start it


def test_a_job_whose_worker_died_is_run_again(db, handlers):
    job = enqueue(kind="test.ok", title="t")
    _taken_by_a_worker_that_died(job)
    assert run_pending() == 0  # a job in hand is nobody else's
    assert recover_stalled() == 1
    job.refresh_from_db()
    assert job.status == JobStatus.QUEUED and job.message == "工作进程中断，已重新排队"
    run_now(job)  # due from the recovery's moment on, which a test's transaction (its now() fixed) never reaches
    assert run_pending() == 1
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED and job.attempts == 2 and handlers == [{}]


def test_a_job_whose_outcome_was_stored_is_never_run_again_by_the_recovery(db, handlers):
    job = enqueue(kind="test.ok", title="t")
    _taken_by_a_worker_that_died(job)
    Job.objects.filter(pk=job.pk).update(status=JobStatus.SUCCEEDED)  # stored; the queue entry was not closed
    assert recover_stalled() == 1
    assert _queue(job) == [("succeeded", 1)] and run_pending() == 0 and handlers == []


def test_web_import_runs_as_a_job_and_shows_its_report(client, world):
    client.force_login(world["users"]["bureau"])
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("homes.xlsx", xlsx([row(501), row(502, 经度="x")]))
    response = client.post(reverse("carehome-import"), {"file": upload, "crs": "wgs84"})
    job = Job.objects.latest("id")
    assert response.status_code == 302 and response["Location"] == reverse("job-detail", args=[job.pk])
    assert client.get(reverse("job-status", args=[job.pk])).json()["status"] == "queued"
    run_pending()
    status = client.get(reverse("job-status", args=[job.pk])).json()
    assert status["finished"] and status["status"] == "succeeded"
    page = client.get(reverse("job-detail", args=[job.pk])).content.decode()
    assert "未导入任何数据" in page and "不是数字" in page
    # another user cannot see the job
    client.force_login(world["users"]["subdistrict"])
    assert client.get(reverse("job-detail", args=[job.pk])).status_code == 404


def test_web_import_form_rejects_other_files_in_chinese(client, world):
    client.force_login(world["users"]["bureau"])
    from django.core.files.uploadedfile import SimpleUploadedFile

    response = client.post(reverse("carehome-import"), {"file": SimpleUploadedFile("a.pdf", b"x"), "crs": "wgs84"})
    assert response.status_code == 200 and "请上传 .xlsx 或 .csv 文件" in response.content.decode()
    assert not Job.objects.exists()


def test_template_download(client, world):
    client.force_login(world["users"]["bureau"])
    response = client.get(reverse("carehome-import-template"))
    assert response.status_code == 200 and response.content[:2] == b"PK"


@pytest.mark.django_db(transaction=True, databases=["default", "progress"])
def test_progress_is_visible_to_others_while_the_jobs_own_transaction_is_open(settings, monkeypatch):
    from django.db import connections, transaction

    settings.JOB_PROGRESS_DATABASE = "progress"
    seen = {}

    def slow(job, progress):
        with transaction.atomic():
            SafetyServiceProvider.objects.create(name="inside the transaction")
            progress(5, 10, "一半", force=True)
            # Read through the other connection, as the web UI would.
            seen["job"] = Job.objects.using("progress").get(pk=job.pk)
            seen["provider"] = (
                SafetyServiceProvider.objects.using("progress").filter(name="inside the transaction").exists()
            )
        return {}

    registry.get_handler("carehomes.import")
    monkeypatch.setitem(registry.HANDLERS, "test.slow", slow)
    job = enqueue(kind="test.slow", title="t")
    run_pending()
    assert (seen["job"].progress_done, seen["job"].progress_total, seen["job"].message) == (5, 10, "一半")
    assert seen["provider"] is False  # the job's own uncommitted work stays invisible until it commits
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED
    assert SafetyServiceProvider.objects.filter(name="inside the transaction").exists()
    connections["progress"].close()


def test_a_stalled_job_without_attempts_left_fails_with_the_reason_instead_of_running_again(db, handlers):
    job = enqueue(kind="test.ok", title="t", max_attempts=1)
    _taken_by_a_worker_that_died(job)
    assert recover_stalled() == 1
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED and "最多尝试次数" in job.error
    assert _queue(job) == [("failed", 1)]
    assert run_pending() == 0 and handlers == []


def test_a_live_workers_job_is_not_taken_for_stalled(db, handlers):
    job = enqueue(kind="test.ok", title="t")
    _taken_by_a_worker_that_died(job)
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE procrastinate_workers SET last_heartbeat = now()"
        )  # it beats: a long job, not a dead one
    assert recover_stalled() == 0
    job.refresh_from_db()
    assert job.status == JobStatus.RUNNING


def test_a_result_with_nul_bytes_and_thousands_of_rows_is_stored_clean_and_bounded(db, handlers, monkeypatch):
    def dirty(job, progress):
        return {"name\x00": "a\x00b", "errors": [f"第{i}行\x00有误" for i in range(5000)]}

    monkeypatch.setitem(registry.HANDLERS, "test.dirty", dirty)
    job = enqueue(kind="test.dirty", title="t")
    run_pending()
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED
    assert job.result["name"] == "ab" and len(job.result["errors"]) == 501
    assert job.result["errors"][0] == "第0行有误" and "另有 4500 项" in job.result["errors"][-1]


def test_a_job_whose_result_cannot_be_stored_fails_alone_and_the_next_job_runs(db, handlers, monkeypatch):
    monkeypatch.setitem(registry.HANDLERS, "test.unsavable", lambda job, progress: {"when": object()})
    bad = enqueue(kind="test.unsavable", title="bad")
    good = enqueue(kind="test.ok", title="good")
    assert run_pending() == 2
    bad.refresh_from_db()
    good.refresh_from_db()
    assert bad.status == JobStatus.FAILED and "无法保存" in bad.error
    assert good.status == JobStatus.SUCCEEDED


def test_an_unexpected_failure_tells_the_user_what_failed_but_not_the_programs_insides(db, handlers, monkeypatch):
    def broken(job, progress):
        raise KeyError("/srv/app/.venv/lib/python3.11/site-packages/x.py")

    monkeypatch.setitem(registry.HANDLERS, "test.broken", broken)
    job = enqueue(kind="test.broken", title="t", max_attempts=1)
    run_pending()
    job.refresh_from_db()
    assert (
        job.status == JobStatus.FAILED and "任务出错（已尝试 1 次）" in job.error and f"任务编号 {job.pk}" in job.error
    )
    assert "Traceback" not in job.error and 'File "' not in job.error


def test_an_outcome_the_database_did_not_take_runs_the_job_again_as_a_counted_attempt(db, handlers, monkeypatch):
    from django.db import OperationalError

    from gis_app.jobs import services

    real, lost = services._finish, []

    def finish_once_lost(*args, **kwargs):
        if not lost:
            lost.append(1)
            raise OperationalError("server closed the connection unexpectedly")
        return real(*args, **kwargs)

    monkeypatch.setattr(services, "_finish", finish_once_lost)
    job = enqueue(kind="test.ok", title="t")
    run_pending()
    job.refresh_from_db()
    assert job.status == JobStatus.RUNNING and _queue(job) == [("todo", 1)]  # Procrastinate runs the entry again
    run_now(job)
    run_pending()
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED and job.attempts == 2 and len(handlers) == 2


def test_a_queue_entry_run_again_ends_when_the_jobs_attempts_are_spent(db, handlers):
    job = enqueue(kind="test.ok", title="t", max_attempts=2)
    with connection.cursor() as cursor:
        cursor.execute("SELECT id FROM procrastinate_jobs WHERE (args ->> 'job_id')::bigint = %s", [job.pk])
        entry = cursor.fetchone()[0]
    assert claim(job.pk, entry).attempts == 1  # an attempt whose outcome the database did not take
    assert claim(job.pk, entry).attempts == 2  # the same entry run again: the job's second attempt
    assert claim(job.pk, entry) is None  # none left
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED and "数据库中断" in job.error


def test_the_late_outcome_of_an_attempt_whose_job_was_taken_up_again_is_dropped(db, handlers):
    from gis_app.jobs import services

    job = enqueue(kind="test.ok", title="t")
    _taken_by_a_worker_that_died(job)
    first_attempt = Job.objects.get(pk=job.pk)  # its worker only seemed gone: it still runs, and will finish
    recover_stalled()
    run_now(job)
    run_pending()  # the second attempt runs and records its outcome
    services._finish(first_attempt, JobStatus.FAILED, error="迟到的结果")
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED and job.attempts == 2 and job.error == ""
