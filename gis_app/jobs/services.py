"""Enqueue, claim and run background jobs.

A worker claims the oldest due job with SELECT ... FOR UPDATE SKIP LOCKED, so any number of workers on any number
of machines share one queue. The handler's own writes run in its own transaction; progress is written through the
separate "progress" connection so the UI sees it while that transaction is still open. A failed attempt is retried
with back-off up to max_attempts; a job whose worker died (no heartbeat) is put back in the queue.
"""

import logging
import time
import traceback
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, close_old_connections, transaction
from django.utils import timezone

from gis_app.lib import clock

from .models import Job, JobStatus
from .registry import DAILY, FREQUENT, get_handler

log = logging.getLogger(__name__)


class JobError(Exception):
    """A failure the user can act on: shown as is, not retried."""


def enqueue(*, kind: str, title: str, params: dict | None = None, created_by=None, payload: bytes | None = None,
            payload_name: str = "", max_attempts: int = 3) -> Job:  # fmt: skip
    get_handler(kind)  # refuse unknown kinds at once, not in the worker
    return Job.objects.create(
        kind=kind,
        title=title,
        params=params or {},
        created_by=created_by,
        payload=payload,
        payload_name=payload_name,
        max_attempts=max_attempts,
    )


class Progress:
    """Handed to a handler: progress(done, total, message) and a heartbeat, written outside its transaction."""

    def __init__(self, job: Job):
        self.job = job
        self._last = 0.0

    def __call__(self, done: int, total: int | None = None, message: str | None = None, *, force: bool = False):
        now = time.monotonic()
        if not force and now - self._last < 0.25 and (total is None or done < total):
            return
        self._last = now
        fields = {"progress_done": done, "heartbeat_at": timezone.now()}
        if total is not None:
            fields["progress_total"] = total
        if message is not None:
            fields["message"] = message[:300]
        Job.objects.using(settings.JOB_PROGRESS_DATABASE).filter(pk=self.job.pk).update(**fields)


def requeue_stale() -> int:
    cutoff = timezone.now() - timedelta(seconds=settings.JOB_STALE_AFTER_SECONDS)
    return Job.objects.filter(status=JobStatus.RUNNING, heartbeat_at__lt=cutoff).update(
        status=JobStatus.QUEUED, message="工作进程中断，已重新排队"
    )


def claim_next() -> Job | None:
    with transaction.atomic():
        job = (
            Job.objects.select_for_update(skip_locked=True)
            .filter(status=JobStatus.QUEUED, run_after__lte=timezone.now())
            .order_by("run_after", "id")
            .first()
        )
        if job is None:
            return None
        job.status = JobStatus.RUNNING
        job.attempts += 1
        job.started_at = job.heartbeat_at = timezone.now()
        job.error = ""
        job.save(update_fields=["status", "attempts", "started_at", "heartbeat_at", "error"])
        return job


def run(job: Job) -> Job:
    progress = Progress(job)
    try:
        result = get_handler(job.kind)(job, progress)
    except JobError as exc:
        _finish(job, JobStatus.FAILED, error=str(exc))
    except Exception as exc:  # noqa: BLE001 - every failure is recorded and shown, never lost
        log.exception("job %s (%s) failed", job.pk, job.kind)
        if job.attempts < job.max_attempts:
            job.status = JobStatus.QUEUED
            job.run_after = timezone.now() + timedelta(seconds=5 * 2**job.attempts)
            job.error = f"第{job.attempts}次尝试失败，将重试：{exc}"
            job.save(update_fields=["status", "run_after", "error"])
        else:
            _finish(job, JobStatus.FAILED, error=f"{exc}\n\n{traceback.format_exc()}")
    else:
        _finish(job, JobStatus.SUCCEEDED, result=result)
    job.refresh_from_db()
    return job


def _finish(job: Job, status: str, *, result=None, error: str = "") -> None:
    Job.objects.filter(pk=job.pk).update(
        status=status, result=result, error=error, finished_at=timezone.now(), heartbeat_at=timezone.now()
    )


def run_pending(limit: int | None = None) -> int:
    """Run due jobs until none is left (or `limit`); returns how many ran. Used by the worker and by tests."""
    count = 0
    while limit is None or count < limit:
        job = claim_next()
        if job is None:
            break
        run(job)
        count += 1
    return count


def enqueue_once(*, kind: str, title: str, key: str, params: dict | None = None, max_attempts: int = 3) -> bool:
    """Create the job for `key` unless it exists; the unique key makes a second worker's (or request's) attempt a
    no-op. Returns whether this call created it."""
    if Job.objects.filter(unique_key=key).exists():
        return False
    try:
        with transaction.atomic():
            Job.objects.create(kind=kind, title=title, unique_key=key, params=params or {}, max_attempts=max_attempts)
    except IntegrityError:
        return False
    return True


def _discover() -> None:
    if not (DAILY or FREQUENT):
        from django.utils.module_loading import autodiscover_modules

        autodiscover_modules("jobs")


def schedule_daily(now=None) -> int:
    """Enqueue today's run of every daily job once, from DAILY_JOBS_HOUR on."""
    _discover()
    now = timezone.localtime(now or clock.now())
    if now.hour < settings.DAILY_JOBS_HOUR:
        return 0
    day = now.date()
    return sum(
        enqueue_once(
            kind=kind,
            title=f"{title}（{day:%Y-%m-%d}）",
            key=f"{kind}:{day.isoformat()}",
            params={"date": day.isoformat()},
        )
        for kind, title in DAILY.items()
    )


def schedule_frequent(now=None) -> int:
    """Enqueue each frequent job once per its interval (keyed by the interval's start)."""
    _discover()
    now = timezone.localtime(now or clock.now())
    created = 0
    for kind, (title, minutes) in FREQUENT.items():
        slot = now.replace(minute=now.minute - now.minute % minutes, second=0, microsecond=0)
        created += enqueue_once(kind=kind, title=title, key=f"{kind}:{slot:%Y-%m-%dT%H:%M}", max_attempts=1)
    return created


def work_forever(poll_seconds: float) -> None:
    log.info("job worker started")
    while True:
        close_old_connections()
        requeue_stale()
        schedule_daily()
        schedule_frequent()
        if run_pending() == 0:
            time.sleep(poll_seconds)
