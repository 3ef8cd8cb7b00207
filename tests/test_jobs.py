from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from gis_app.carehomes.models import SafetyServiceProvider
from gis_app.jobs import registry
from gis_app.jobs.models import Job, JobStatus
from gis_app.jobs.services import JobError, claim_next, enqueue, requeue_stale, run_pending

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
    Job.objects.filter(pk=job.pk).update(run_after=timezone.now())
    run_pending()
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED and job.attempts == 2


def test_a_user_error_fails_at_once_and_is_shown(db, handlers):
    job = enqueue(kind="test.user_error", title="t")
    run_pending()
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED and job.error == "文件有问题" and job.attempts == 1


def test_unknown_kinds_are_refused_when_enqueued(db):
    with pytest.raises(KeyError):
        enqueue(kind="no.such", title="t")


def test_a_job_whose_worker_died_is_requeued(db, handlers):
    job = enqueue(kind="test.ok", title="t")
    claimed = claim_next()
    assert claimed.pk == job.pk and claim_next() is None  # one worker holds it
    Job.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now() - timedelta(hours=1))
    assert requeue_stale() == 1
    assert run_pending() == 1


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
