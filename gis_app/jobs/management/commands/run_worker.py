import signal
import threading

from django.conf import settings
from django.core.management.base import BaseCommand

from gis_app.jobs.services import run_pending, work_forever


class Command(BaseCommand):
    help = "Runs background jobs (imports, exports, syncs). Any number of workers may run at once."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="run the jobs that are due, then exit")

    def handle(self, *args, once: bool = False, **options):
        if once:
            self.stdout.write(f"ran {run_pending()} job(s)")
            return
        stop = threading.Event()

        def request_stop(signum, _frame):
            # The job in hand finishes; a supervisor that loses patience sends SIGKILL, and the job's missing
            # heartbeat then returns it to the queue.
            self.stderr.write(f"signal {signum}: stopping after the current job")
            stop.set()

        signal.signal(signal.SIGTERM, request_stop)
        signal.signal(signal.SIGINT, request_stop)
        work_forever(settings.JOB_WORKER_POLL_SECONDS, stop)
