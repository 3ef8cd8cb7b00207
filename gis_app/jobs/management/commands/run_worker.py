import asyncio
import logging
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
        # The Procrastinate worker: LISTEN/NOTIFY, heartbeats, the periodic housekeeping; on SIGTERM or SIGINT it lets
        # the job in hand finish (a supervisor that loses patience sends SIGKILL: the job's worker then falls silent
        # and the housekeeping runs it again). It stops when the database goes away: it is started again here, once
        # the database answers, and the jobs the lost worker held are taken up again by the housekeeping.
        with app.replace_connector(app.connector.get_worker_connector()):
            while True:
                try:
                    close_old_connections()
                    housekeeping()  # at once, not at the next period: a restarted worker may find jobs left behind
                    asyncio.run(self._work())
                    break  # stopped on request
                except Exception as exc:  # noqa: BLE001 - whatever stopped the worker, it is started again
                    log.warning("job worker stopped (%s); starting again in %s s", str(exc).strip()[:200], _pause())
                    connections.close_all()
                    time.sleep(_pause())
        self.stderr.write("job worker stopped")

    async def _work(self) -> None:
        async with app.open_async():
            await app.run_worker_async()


def _pause() -> int:
    return max(1, settings.JOB_WORKER_POLL_SECONDS)
