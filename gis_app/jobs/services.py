"""Background jobs: what users see of a job (the Job row) and how it runs (Procrastinate's queue, in PostgreSQL).

`enqueue` writes the Job and defers Procrastinate's `jobs.run` task for it in one transaction, so a job is never
queued half-way. A Procrastinate worker (`manage.py run_worker`, any number on any number of machines) takes it with
SKIP LOCKED, woken at once by LISTEN/NOTIFY, and `execute` runs the job's handler: the handler's own writes run in its
own transaction; progress is written through the separate "progress" connection so the UI sees it while that
transaction is still open. A failed attempt is retried with back-off (Procrastinate's retry, asked for by raising
Retry) up to the Job's max_attempts; a user error (JobError) fails at once. Each worker beats its heart every
JOB_HEARTBEAT_SECONDS however long its handler waits (a QFieldCloud job may take 15 minutes), so a job whose worker
is silent for JOB_STALE_AFTER_SECONDS is a job whose worker is gone: the housekeeping task (every 15 seconds) runs it again
if it has attempts left, and fails it with the reason otherwise. The Job row, not the queue, says whether a job ran:
a job is started only from "queued", so no job runs twice beyond its attempts. Results are cleaned and bounded before
they are stored, so no result can make a job unsavable.
"""

import asyncio
import json
import logging
import threading
import time
from datetime import timedelta

from asgiref.sync import async_to_sync, sync_to_async
from django.conf import settings
from django.db import (
    DatabaseError,
    IntegrityError,
    InterfaceError,
    OperationalError,
    connection,
    connections,
    models,
    transaction,
)
from django.utils import timezone
from procrastinate.contrib.django import app as procrastinate_app
from procrastinate.contrib.django.django_connector import DjangoConnector

from gis_app.lib import clock

from .models import Job, JobStatus
from .registry import DAILY, FREQUENT, discover, get_handler

log = logging.getLogger(__name__)

RUN_TASK = "jobs.run"  # the Procrastinate task that runs one Job (gis_app/jobs/tasks.py)


class _ThisConnection(DjangoConnector):
    """Procrastinate on this thread's Django connection, with jsonb decoded (Django leaves it as text for JSONField)."""

    def _dictfetch(self, cursor):
        for row in super()._dictfetch(cursor):
            if isinstance(row.get("args"), str):
                row["args"] = json.loads(row["args"])
            yield row


class JobError(Exception):
    """A failure the user can act on: shown as is, not retried."""


class RunLater(Exception):  # noqa: N818 - an instruction, not an error
    """Raised by a handler that waits for something outside (a server's job): the job goes back to the queue to run
    again in `seconds`, without holding a worker and without counting as an attempt; `message` is shown meanwhile."""

    def __init__(self, seconds: float, message: str):
        super().__init__(message)
        self.seconds, self.message = seconds, message


class Retry(Exception):  # noqa: N818 - an instruction to the queue, not an error of its own
    """Raised from a failed attempt that has attempts left: Procrastinate runs the job again in `seconds`."""

    def __init__(self, seconds: float):
        super().__init__(f"retry in {seconds} s")
        self.seconds = seconds


def enqueue(
    *,
    kind: str,
    title: str,
    params: dict | None = None,
    created_by=None,
    payload: bytes | None = None,
    payload_name: str = "",
    max_attempts: int = 3,
    delay: timedelta | None = None,
) -> Job:
    """The Job and its place in the queue, in one transaction; `delay` puts off its start."""
    get_handler(kind)  # refuse unknown kinds at once, not in the worker
    with transaction.atomic():
        job = Job.objects.create(
            kind=kind,
            title=title,
            params=params or {},
            created_by=created_by,
            payload=payload,
            payload_name=payload_name,
            max_attempts=max_attempts,
        )
        if delay:
            Job.objects.filter(pk=job.pk).update(run_after=job.run_after + delay)
            job.refresh_from_db(fields=["run_after"])
        _defer(job.pk, delay)
    return job


def _defer(job_pk: int, delay: timedelta | None = None) -> None:
    """Puts the job in Procrastinate's queue on Django's connection, so inside the caller's transaction: in a worker
    too, whose Procrastinate app has a connection pool of its own (a job deferred there could be taken before the
    Job row it names is committed, or stay queued for a Job row rolled back)."""
    from procrastinate.tasks import configure_task

    options = {"schedule_in": {"seconds": delay.total_seconds()}} if delay else {}
    configure_task(name=RUN_TASK, job_manager=_manager(), **options).defer(job_id=job_pk)


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


MAX_LIST_ITEMS = 500
MAX_TEXT = 20_000

STALLED_FAILED = "工作进程在运行本任务时中断，已达最多尝试次数，不再重试。"
STALLED_REQUEUED = "工作进程中断，已重新排队"


def recover_stalled() -> int:
    """The jobs of workers gone silent (no heartbeat for JOB_STALE_AFTER_SECONDS: killed, machine lost, cut off from
    the database): run again if attempts are left, else failed with the reason. A job whose outcome was stored but
    whose queue entry was not closed (the database went away in between) is only closed: it never runs again."""
    manager = _manager()
    stalled = async_to_sync(manager.get_stalled_jobs)(seconds_since_heartbeat=settings.JOB_STALE_AFTER_SECONDS)
    for entry in stalled:
        job = Job.objects.filter(pk=entry.task_kwargs.get("job_id")).first() if entry.task_name == RUN_TASK else None
        if job is None:  # housekeeping (it runs again within 15 s anyway) or a job deleted meanwhile
            async_to_sync(manager.finish_job)(job=entry, status=_status("failed"), delete_job=False)
            continue
        with transaction.atomic():
            running = Job.objects.select_for_update().filter(pk=job.pk, status=JobStatus.RUNNING)
            if running.filter(attempts__gte=models.F("max_attempts")).update(
                status=JobStatus.FAILED, finished_at=timezone.now(), error=STALLED_FAILED
            ):
                job.status = JobStatus.FAILED
            elif running.update(status=JobStatus.QUEUED, message=STALLED_REQUEUED):
                job.status = JobStatus.QUEUED
            else:
                job.refresh_from_db(fields=["status"])
        if job.status == JobStatus.QUEUED:
            log.warning("job %s: its worker is gone; queued again", job.pk)
            async_to_sync(manager.retry_job)(job=entry)
        else:
            log.warning("job %s: its worker is gone; %s", job.pk, job.status)
            async_to_sync(manager.finish_job)(job=entry, status=_status(job.status), delete_job=False)
    return len(stalled)


def _manager():
    """Procrastinate's job manager on this thread's Django connection (in a worker as in a test's transaction)."""
    from procrastinate.manager import JobManager

    return JobManager(_ThisConnection())


def _status(status: str):
    from procrastinate.jobs import Status

    return Status.SUCCEEDED if status == JobStatus.SUCCEEDED else Status.FAILED


def clean(value):
    """A result as PostgreSQL's jsonb can store it and a page can show it: no NUL characters (which neither text nor
    jsonb accepts), long texts cut, long lists cut to their first MAX_LIST_ITEMS with a count of what was left out."""
    if isinstance(value, str):
        value = value.replace("\x00", "")
        return value if len(value) <= MAX_TEXT else value[:MAX_TEXT] + "…（已截断）"
    if isinstance(value, dict):
        return {clean(str(k)): clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        items = [clean(v) for v in value[:MAX_LIST_ITEMS]]
        if len(value) > MAX_LIST_ITEMS:
            items.append(f"……另有 {len(value) - MAX_LIST_ITEMS} 项未列出")
        return items
    return value


DATABASE_LOST_FAILED = "运行本任务时数据库中断，已达最多尝试次数，不再重试。"


def claim(job_pk: int, entry: int | None = None) -> Job | None:
    """Starts the job if it is queued, or if it is running for this very queue entry, which Procrastinate runs again
    when the attempt before could not record its outcome (the database went away mid-job) and which then counts as an
    attempt. One statement each: another worker's claim makes this one a no-op. None when the job is running
    elsewhere, finished or gone, or has no attempts left (then failed with the reason)."""
    table = Job._meta.db_table
    now = timezone.now()
    with transaction.atomic():
        if entry is not None:
            Job.objects.filter(
                pk=job_pk, status=JobStatus.RUNNING, queue_entry=entry, attempts__gte=models.F("max_attempts")
            ).update(status=JobStatus.FAILED, finished_at=now, error=DATABASE_LOST_FAILED)
        claimed = Job.objects.raw(
            f"""
            UPDATE {table} SET status = %s, attempts = attempts + 1, started_at = %s, heartbeat_at = %s, error = '',
                               queue_entry = %s
            WHERE id = %s AND (status = %s OR (status = %s AND queue_entry = %s AND attempts < max_attempts))
            RETURNING *
            """,
            [JobStatus.RUNNING, now, now, entry, job_pk, JobStatus.QUEUED, JobStatus.RUNNING, entry],
        )
        return next(iter(claimed), None)


def execute(job_pk: int, entry: int | None = None) -> None:
    """What Procrastinate's worker runs for a job (the `jobs.run` task; `entry` is its queue entry's id)."""
    job = claim(job_pk, entry)
    if job is None:
        log.warning("job %s is not queued (finished, running elsewhere or deleted): not run again", job_pk)
        return
    _run(job, Progress(job))


def _run(job: Job, progress: Progress) -> None:
    try:
        result = get_handler(job.kind)(job, progress)
    except RunLater as later:
        with transaction.atomic():
            Job.objects.filter(pk=job.pk).update(
                status=JobStatus.QUEUED,
                run_after=timezone.now() + timedelta(seconds=later.seconds),
                attempts=models.F("attempts") - 1,
                message=later.message[:300],
            )
            _defer(job.pk, timedelta(seconds=later.seconds))
    except JobError as exc:
        _finish(job, JobStatus.FAILED, error=str(exc))
    except Exception as exc:  # noqa: BLE001 - every failure is recorded and shown, never lost
        log.exception("job %s (%s) failed", job.pk, job.kind)
        if job.attempts < job.max_attempts:
            seconds = 5 * 2**job.attempts
            Job.objects.filter(pk=job.pk).update(
                status=JobStatus.QUEUED,
                run_after=timezone.now() + timedelta(seconds=seconds),
                error=clean(f"第{job.attempts}次尝试失败，将重试：{_reason(exc)}"),
            )
            raise Retry(seconds) from exc
        # the traceback is in the server log (above); the page says what failed, not the program's insides
        error = f"任务出错（已尝试 {job.attempts} 次）：{_reason(exc)}。详细信息已记入服务器日志（任务编号 {job.pk}）。"
        _finish(job, JobStatus.FAILED, error=error)
    else:
        _finish(job, JobStatus.SUCCEEDED, result=result)


def _reason(exc: Exception) -> str:
    """The first line of an unexpected failure, bounded; its type when it says nothing."""
    first = (str(exc).strip().splitlines() or [""])[0][:300]
    return first or type(exc).__name__


def _finish(job: Job, status: str, *, result=None, error: str = "") -> None:
    """Records the outcome of this attempt, unless the job was taken up again meanwhile (its worker was silent long
    enough to be taken for gone): the attempt that now holds it records its own."""
    this_attempt = Job.objects.filter(pk=job.pk, status=JobStatus.RUNNING, attempts=job.attempts)
    try:
        with transaction.atomic():
            recorded = this_attempt.update(
                status=status,
                result=clean(result),
                error=clean(error),
                finished_at=timezone.now(),
                heartbeat_at=timezone.now(),
            )
        if not recorded:
            log.warning(
                "job %s: attempt %s ended after the job was taken up again; outcome dropped", job.pk, job.attempts
            )
    except (InterfaceError, OperationalError):
        raise  # the database is gone, not the result: the job is taken up again (recover_stalled)
    except (DatabaseError, TypeError, ValueError) as exc:
        log.exception("job %s: result not storable", job.pk)
        this_attempt.update(
            status=JobStatus.FAILED,
            result=None,
            finished_at=timezone.now(),
            error=f"任务结果无法保存：{clean(str(exc))}",
        )


def run_now(job: Job) -> None:
    """A job waiting for its time (a retry's back-off, a delayed start) is due at once."""
    Job.objects.filter(pk=job.pk, status=JobStatus.QUEUED).update(run_after=timezone.now())
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE procrastinate_jobs SET scheduled_at = NULL"
            " WHERE status = 'todo' AND task_name = %s AND (args ->> 'job_id')::bigint = %s",
            [RUN_TASK, job.pk],
        )


def discard(job_pks: list[int]) -> int:
    """Queued jobs nobody took (a probe without workers): removed with their places in the queue."""
    with transaction.atomic():
        deleted, _ = Job.objects.filter(pk__in=job_pks, status=JobStatus.QUEUED).delete()
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE procrastinate_jobs SET status = 'cancelled'"
                " WHERE status = 'todo' AND task_name = %s AND (args ->> 'job_id')::bigint = ANY(%s)",
                [RUN_TASK, list(job_pks)],
            )
    return deleted


def run_pending() -> int:
    """Runs the due jobs with a Procrastinate worker in this thread, on this thread's connection, until none is left;
    returns how many of the platform's jobs it ran. For `run_worker --once` and for tests (whose data lives in a
    transaction only this connection sees). No periodic scheduling: housekeeping() is called first instead. A thread
    that already runs an event loop (a browser test's Playwright) cannot wait on another: the worker then runs in a
    thread of its own, on a connection of its own, and sees committed data only."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return _run_pending()
    outcome: dict = {}

    def in_a_thread() -> None:
        try:
            outcome["ran"] = _run_pending()
        except BaseException as exc:  # noqa: BLE001 - handed to the caller below
            outcome["error"] = exc
        finally:
            connections.close_all()

    thread = threading.Thread(target=in_a_thread, name="run_pending")
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["ran"]


def _run_pending() -> int:
    import procrastinate
    from procrastinate import utils as procrastinate_utils

    lean = procrastinate.App(connector=_ThisConnection())  # the queue's task, without the periodic one
    lean.tasks = {name: task for name, task in procrastinate_app.tasks.items() if name == RUN_TASK}
    ran = Job.objects.filter(status__in=[JobStatus.SUCCEEDED, JobStatus.FAILED]).count()
    in_this_thread = procrastinate_utils.sync_to_async
    procrastinate_utils.sync_to_async = _in_this_thread
    try:
        async_to_sync(lean.run_worker_async)(
            wait=False, listen_notify=False, install_signal_handlers=False, task_middleware=[], concurrency=1
        )
    finally:
        procrastinate_utils.sync_to_async = in_this_thread
    return Job.objects.filter(status__in=[JobStatus.SUCCEEDED, JobStatus.FAILED]).count() - ran


async def _in_this_thread(func, *args, **kwargs):
    return await sync_to_async(func, thread_sensitive=True)(*args, **kwargs)


def enqueue_once(*, kind: str, title: str, key: str, params: dict | None = None, max_attempts: int = 3) -> bool:
    """Create the job for `key` unless it exists; the unique key makes a second worker's (or request's) attempt a
    no-op. Returns whether this call created it."""
    if Job.objects.filter(unique_key=key).exists():
        return False
    try:
        with transaction.atomic():
            job = Job.objects.create(
                kind=kind, title=title, unique_key=key, params=params or {}, max_attempts=max_attempts
            )
            _defer(job.pk)
    except IntegrityError:
        return False
    return True


def schedule_daily(now=None) -> int:
    """Enqueue today's run of every daily job once, from DAILY_JOBS_HOUR on."""
    discover()
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
    discover()
    now = timezone.localtime(now or clock.now())
    created = 0
    for kind, (title, minutes) in FREQUENT.items():
        slot = now.replace(minute=now.minute - now.minute % minutes, second=0, microsecond=0)
        created += enqueue_once(kind=kind, title=title, key=f"{kind}:{slot:%Y-%m-%dT%H:%M}", max_attempts=1)
    return created


def housekeeping() -> None:
    """Every 15 seconds (Procrastinate's periodic task, deferred once across all workers): the jobs of vanished workers,
    today's daily jobs and the frequent ones."""
    recover_stalled()
    schedule_daily()
    schedule_frequent()
