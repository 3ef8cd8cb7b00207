"""Enqueue, claim and run background jobs.

A worker claims the oldest due job with SELECT ... FOR UPDATE SKIP LOCKED, so any number of workers on any number
of machines share one queue. The handler's own writes run in its own transaction; progress is written through the
separate "progress" connection so the UI sees it while that transaction is still open. A failed attempt is retried
with back-off up to max_attempts. While a job runs, a heartbeat thread stamps it every HEARTBEAT_SECONDS, however long
the handler waits (a QFieldCloud job may take 15 minutes), so a job without a heartbeat means its worker is gone: it is
put back in the queue if it has attempts left, and failed with the reason otherwise. Results are cleaned and bounded
before they are stored, so no result can make a job unsavable.
"""

import contextlib
import logging
import threading
import time
from datetime import timedelta

import psycopg
from django.conf import settings
from django.db import DatabaseError, IntegrityError, close_old_connections, connections, models, transaction
from django.utils import timezone

from gis_app.lib import clock

from .models import Job, JobStatus
from .registry import DAILY, FREQUENT, discover, get_handler

log = logging.getLogger(__name__)


class JobError(Exception):
    """A failure the user can act on: shown as is, not retried."""


class RunLater(Exception):  # noqa: N818 - an instruction, not an error
    """Raised by a handler that waits for something outside (a server's job): the job goes back to the queue to run
    again in `seconds`, without holding a worker and without counting as an attempt; `message` is shown meanwhile."""

    def __init__(self, seconds: float, message: str):
        super().__init__(message)
        self.seconds, self.message = seconds, message


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


HEARTBEAT_SECONDS = settings.JOB_HEARTBEAT_SECONDS
MAX_LIST_ITEMS = 500
MAX_TEXT = 20_000


class Heartbeat(threading.Thread):
    """Stamps the running job every HEARTBEAT_SECONDS on its own connection, until stopped."""

    def __init__(self, job: Job):
        super().__init__(name=f"heartbeat-{job.pk}", daemon=True)
        self.job_pk = job.pk
        self.stopped = threading.Event()

    def run(self) -> None:
        try:
            while not self.stopped.wait(HEARTBEAT_SECONDS):
                try:
                    Job.objects.using(settings.JOB_PROGRESS_DATABASE).filter(pk=self.job_pk).update(
                        heartbeat_at=timezone.now()
                    )
                except DatabaseError:
                    log.warning("heartbeat of job %s not written (database unavailable)", self.job_pk)
        finally:
            connections.close_all()  # this thread's own connections

    def stop(self) -> None:
        self.stopped.set()
        self.join(timeout=5)


def requeue_stale() -> int:
    """Jobs whose worker is gone (no heartbeat for JOB_STALE_AFTER_SECONDS): again if attempts are left, else failed."""
    cutoff = timezone.now() - timedelta(seconds=settings.JOB_STALE_AFTER_SECONDS)
    return _requeue(
        Job.objects.filter(status=JobStatus.RUNNING, heartbeat_at__lt=cutoff),
        "工作进程在运行本任务时中断，已达最多尝试次数，不再重试。",
        "工作进程中断，已重新排队",
    )


def release(pk: int) -> int:
    """The job in hand when the database went away (its outcome could not be written): back in the queue at once if
    it has attempts left, else failed, without waiting for its heartbeat to go stale."""
    return _requeue(
        Job.objects.filter(pk=pk, status=JobStatus.RUNNING),
        "运行本任务时数据库中断，已达最多尝试次数，不再重试。",
        "运行时数据库中断，已重新排队",
    )


def _requeue(running, failed_reason: str, requeued_message: str) -> int:
    failed = running.filter(attempts__gte=models.F("max_attempts")).update(
        status=JobStatus.FAILED, finished_at=timezone.now(), error=failed_reason
    )
    requeued = running.filter(attempts__lt=models.F("max_attempts")).update(
        status=JobStatus.QUEUED, message=requeued_message
    )
    return failed + requeued


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


def claim_next() -> Job | None:
    """The oldest due job, taken for this worker in one statement (no other worker can take it: SKIP LOCKED)."""
    now = timezone.now()
    table = Job._meta.db_table
    claimed = Job.objects.raw(
        f"""
        UPDATE {table} SET status = %s, attempts = attempts + 1, started_at = %s, heartbeat_at = %s, error = ''
        WHERE id = (
            SELECT id FROM {table} WHERE status = %s AND run_after <= %s
            ORDER BY run_after, id
            FOR UPDATE SKIP LOCKED
            LIMIT 1
        )
        RETURNING *
        """,
        [JobStatus.RUNNING, now, now, JobStatus.QUEUED, now],
    )
    return next(iter(claimed), None)


def run(job: Job) -> Job:
    progress = Progress(job)
    heartbeat = Heartbeat(job)
    heartbeat.start()
    try:
        _run(job, progress)
    finally:
        heartbeat.stop()
    job.refresh_from_db()
    return job


def _run(job: Job, progress: Progress) -> None:
    try:
        result = get_handler(job.kind)(job, progress)
    except RunLater as later:
        Job.objects.filter(pk=job.pk).update(
            status=JobStatus.QUEUED,
            run_after=timezone.now() + timedelta(seconds=later.seconds),
            attempts=models.F("attempts") - 1,
            message=later.message[:300],
        )
    except JobError as exc:
        _finish(job, JobStatus.FAILED, error=str(exc))
    except Exception as exc:  # noqa: BLE001 - every failure is recorded and shown, never lost
        log.exception("job %s (%s) failed", job.pk, job.kind)
        if job.attempts < job.max_attempts:
            job.status = JobStatus.QUEUED
            job.run_after = timezone.now() + timedelta(seconds=5 * 2**job.attempts)
            job.error = f"第{job.attempts}次尝试失败，将重试：{_reason(exc)}"
            job.save(update_fields=["status", "run_after", "error"])
        else:
            # the traceback is in the server log (above); the page says what failed, not the program's insides
            error = (
                f"任务出错（已尝试 {job.attempts} 次）：{_reason(exc)}。详细信息已记入服务器日志（任务编号 {job.pk}）。"
            )
            _finish(job, JobStatus.FAILED, error=error)
    else:
        _finish(job, JobStatus.SUCCEEDED, result=result)


def _reason(exc: Exception) -> str:
    """The first line of an unexpected failure, bounded; its type when it says nothing."""
    first = (str(exc).strip().splitlines() or [""])[0][:300]
    return first or type(exc).__name__


def _finish(job: Job, status: str, *, result=None, error: str = "") -> None:
    try:
        with transaction.atomic():
            Job.objects.filter(pk=job.pk).update(
                status=status,
                result=clean(result),
                error=clean(error),
                finished_at=timezone.now(),
                heartbeat_at=timezone.now(),
            )
    except (DatabaseError, TypeError, ValueError) as exc:
        log.exception("job %s: result not storable", job.pk)
        Job.objects.filter(pk=job.pk).update(
            status=JobStatus.FAILED,
            result=None,
            finished_at=timezone.now(),
            error=f"任务结果无法保存：{clean(str(exc))}",
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
    discover()


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


class Wakeup:
    """Waits until a job is queued (PostgreSQL NOTIFY from the jobs table's trigger) or `timeout` passes, on a
    connection of its own that LISTENs; reconnects after a database restart. Polling stays the fallback, so a missed
    notification delays a job by one poll at most."""

    CHANNEL = "gis_app_jobs"
    OWN_KEYS = ("dbname", "user", "password", "host", "port", "sslmode", "sslrootcert", "sslcert", "sslkey", "options")

    def __init__(self):
        self.conn = None

    def listen(self) -> None:
        params = connections["default"].get_connection_params()
        self.conn = psycopg.connect(**{k: v for k, v in params.items() if k in self.OWN_KEYS}, autocommit=True)
        self.conn.execute(f"LISTEN {self.CHANNEL}")

    def wait(self, timeout: float, stop: threading.Event) -> None:
        try:
            if self.conn is None or self.conn.closed:
                self.listen()
            for _ in self.conn.notifies(timeout=timeout, stop_after=1):
                pass
        except psycopg.Error:
            self.close()
            stop.wait(timeout)

    def close(self) -> None:
        if self.conn is not None:
            with contextlib.suppress(psycopg.Error):
                self.conn.close()
        self.conn = None


def work_forever(poll_seconds: float, stop: threading.Event | None = None) -> None:
    """The worker loop: takes a queued job at once (LISTEN/NOTIFY), survives a database restart (it waits and
    reconnects) and, once `stop` is set (SIGTERM), finishes the job in hand and returns."""
    stop = stop or threading.Event()
    wakeup = Wakeup()
    in_hand = None  # a job whose outcome the database did not take
    log.info("job worker started")
    housekeeping_due = 0.0  # stale jobs and schedules: looked at once per poll, not before every job
    while not stop.is_set():
        try:
            close_old_connections()
            if in_hand is not None:
                release(in_hand)
                in_hand = None
            if time.monotonic() >= housekeeping_due:
                requeue_stale()
                schedule_daily()
                schedule_frequent()
                housekeeping_due = time.monotonic() + poll_seconds
            job = claim_next()
            if job is not None:
                in_hand = job.pk
                run(job)
                in_hand = None
                continue
        except DatabaseError as exc:
            log.warning("database unavailable (%s); retrying in %s s", str(exc).strip()[:200], poll_seconds)
            connections.close_all()
            wakeup.close()
            stop.wait(poll_seconds)
            continue
        wakeup.wait(poll_seconds, stop)
    wakeup.close()
    log.info("job worker stopped")
