import statistics
import time

from django.core.management.base import BaseCommand, CommandError

from gis_app.jobs.models import Job, JobStatus
from gis_app.jobs.services import discard, enqueue
from gis_app.lib.progress import progress_bar


class Command(BaseCommand):
    help = "任务队列自检：排入若干个空任务，等待工作进程完成，报告由哪些工作进程执行、排队等待多久。"

    def add_arguments(self, parser):
        parser.add_argument("--count", type=int, default=10, help="probe jobs to queue (default 10)")
        parser.add_argument("--seconds", type=float, default=0.0, help="work each probe pretends to do")
        parser.add_argument("--timeout", type=float, default=120.0, help="give up after this many seconds")

    def handle(self, *args, count: int, seconds: float, timeout: float, **options):
        if not 1 <= count <= 10_000:
            raise CommandError("--count must be from 1 to 10000")
        params = {"seconds": seconds}
        jobs = [enqueue(kind="ops.probe", title="任务队列自检", params=params, max_attempts=1).pk for _ in range(count)]
        deadline = time.monotonic() + timeout
        with progress_bar(count, "任务队列自检") as progress:
            done = 0
            while done < count and time.monotonic() < deadline:
                finished = Job.objects.filter(pk__in=jobs, status__in=[JobStatus.SUCCEEDED, JobStatus.FAILED]).count()
                progress.update(finished - done)
                done = finished
                time.sleep(0.2)
        rows = list(Job.objects.filter(pk__in=jobs).values("status", "result", "error", "attempts"))
        ok = [r for r in rows if r["status"] == JobStatus.SUCCEEDED]
        workers: dict[str, int] = {}
        for r in ok:
            workers[r["result"]["worker"]] = workers.get(r["result"]["worker"], 0) + 1
        waited = [r["result"]["waited_ms"] for r in ok]
        self.stdout.write(
            f"完成 {len(ok)}/{count}；工作进程：" + ("，".join(f"{w} × {n}" for w, n in workers.items()) or "无")
        )
        if waited:
            self.stdout.write(f"排队等待：中位数 {statistics.median(waited):.0f} 毫秒，最长 {max(waited)} 毫秒")
        if len(ok) < count:
            discard(jobs)  # nobody took them: do not leave them
            raise CommandError(f"{count - len(ok)} 个自检任务未在 {timeout:.0f} 秒内完成：工作进程是否在运行？")
