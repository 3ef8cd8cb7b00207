"""Operations jobs: the queue probe, which says which worker took a job and how long it waited."""

import os
import socket
import time

from django.utils import timezone

from gis_app.jobs.registry import handler


@handler("ops.probe")
def probe(job, progress):
    """任务队列自检: a job that does nothing but say who ran it, after `seconds` of (interruptible) work."""
    started = timezone.now()
    worker = f"{socket.gethostname()}:{os.getpid()}"
    seconds = min(float(job.params.get("seconds", 0)), 60.0)
    steps = max(1, int(seconds * 10))
    progress(0, steps, f"运行于 {worker}", force=True)
    for step in range(steps):
        time.sleep(seconds / steps)
        progress(step + 1, steps)
    return {
        "worker": worker,
        "waited_ms": round((started - job.created_at).total_seconds() * 1000),
    }
