import asyncio
import logging
import os
import signal
import time

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import close_old_connections, connections
from procrastinate.contrib.django import app

from gis_app.jobs.services import housekeeping, run_pending

log = logging.getLogger("gis_app.jobs")


class Command(BaseCommand):
    help = (
        "Runs background jobs (imports, exports, syncs) with a Procrastinate worker. Any number of workers may run at "
        "once, on any number of machines sharing the database."
    )

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="run the jobs that are due, then exit")

    def handle(self, *args, once: bool = False, **options):
        if once:
            housekeeping()
            self.stdout.write(f"ran {run_pending()} job(s)")
            return
        # The Procrastinate worker: LISTEN/NOTIFY, heartbeats, the periodic housekeeping. On SIGTERM or SIGINT the job
        # in hand finishes, then the command exits (a second signal exits at once; so does a supervisor's SIGKILL: the
        # job's worker then falls silent and the housekeeping runs the job again). A Procrastinate worker stops when
        # the database goes away: it is started again here once the database answers, and the jobs the lost worker
        # held are taken up again.
        self.stopping = False
        with app.replace_connector(app.connector.get_worker_connector()):
            while not self.stopping:
                try:
                    close_old_connections()
                    housekeeping()  # at once, not at the next period: a restarted worker may find jobs left behind
                    asyncio.run(self._work())
                except Exception as exc:  # noqa: BLE001 - whatever stopped the worker, it is started again
                    if self.stopping:
                        break
                    log.warning("job worker stopped (%s); starting again in %s s", str(exc).strip()[:200], _pause())
                    connections.close_all()
                    time.sleep(_pause())
        self.stderr.write("job worker stopped")

    async def _work(self) -> None:
        loop = asyncio.get_running_loop()
        async with app.open_async():
            worker = asyncio.ensure_future(app.run_worker_async(install_signal_handlers=False))
            for signum in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(signum, self._request_stop, signum, worker)
            try:
                await worker
            except asyncio.CancelledError:
                if not self.stopping:
                    raise
            finally:
                for signum in (signal.SIGTERM, signal.SIGINT):
                    loop.remove_signal_handler(signum)
        if not self.stopping:
            raise RuntimeError("the Procrastinate worker stopped by itself (its database connection failed)")

    def _request_stop(self, signum: int, worker: asyncio.Future) -> None:
        if self.stopping:
            self.stderr.write(f"signal {signum} again: stopping now")
            os._exit(1)
        self.stopping = True
        self.stderr.write(f"signal {signum}: stopping after the job in hand")
        worker.cancel()  # Procrastinate's worker stops taking jobs and waits for the running one


def _pause() -> int:
    return max(1, settings.JOB_WORKER_POLL_SECONDS)
