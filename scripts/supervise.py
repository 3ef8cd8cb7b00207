#!/usr/bin/env python3
"""A small process supervisor for `make run`: starts each program, restarts it when it exits (with back-off), and
stops them all on Ctrl-C or SIGTERM.

    supervise.py web='python -m gis_app.web …' worker='python manage.py run_worker'

Why not honcho: honcho stops every process when one exits, and the point here is the opposite — a job worker that
dies on a poison job is restarted while the web server keeps serving. systemd or docker's restart policy do the same
job in a real deployment; this keeps `make run` one command.
"""

import shlex
import signal
import subprocess
import sys
import time

BACKOFF_MAX = 30.0
HEALTHY_AFTER = 60.0  # a program that ran this long starts its back-off afresh
STOP_GRACE = 15.0


def log(message: str) -> None:
    print(f"[supervise {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


class Program:
    def __init__(self, name: str, command: str):
        self.name, self.argv = name, shlex.split(command)
        self.proc: subprocess.Popen | None = None
        self.started = 0.0
        self.backoff = 1.0
        self.restart_at = 0.0
        self.restarts = 0

    def start(self) -> None:
        self.proc = subprocess.Popen(self.argv, start_new_session=True)
        self.started = time.monotonic()
        log(f"{self.name} started (pid {self.proc.pid})")

    def check(self, now: float) -> None:
        if self.proc is None:
            if now >= self.restart_at:
                self.restarts += 1
                self.start()
            return
        code = self.proc.poll()
        if code is None:
            return
        ran = now - self.started
        self.backoff = 1.0 if ran > HEALTHY_AFTER else min(self.backoff * 2, BACKOFF_MAX)
        self.restart_at = now + self.backoff
        log(f"{self.name} exited with {code} after {ran:.0f} s; restarting in {self.backoff:.0f} s")
        self.proc = None

    def signal(self, sig: int) -> None:
        if self.proc is not None and self.proc.poll() is None:
            try:
                self.proc.send_signal(sig)
            except ProcessLookupError:
                pass


def main(specs: list[str]) -> int:
    programs = []
    for spec in specs:
        name, sep, command = spec.partition("=")
        if not sep or not command.strip():
            print(f"usage: supervise.py name='command' …  (got {spec!r})", file=sys.stderr)
            return 2
        programs.append(Program(name, command))

    stopping = False

    def stop(signum, _frame):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    for p in programs:
        p.start()
    while not stopping:
        now = time.monotonic()
        for p in programs:
            p.check(now)
        time.sleep(0.5)

    log("stopping all programs")
    for p in programs:
        p.signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE
    for p in programs:
        while p.proc is not None and p.proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        if p.proc is not None and p.proc.poll() is None:
            log(f"{p.name} did not stop in {STOP_GRACE:.0f} s: killing it")
            p.signal(signal.SIGKILL)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
