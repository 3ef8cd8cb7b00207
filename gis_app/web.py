"""The web server as `make run`, docker-compose.yml, the Dockerfile, the test suite and the benchmarks start it:
`python -m gis_app.web --host 127.0.0.1 --port 8000` runs granian (a Rust HTTP server) with the WSGI application in
WEB_WORKERS processes of WEB_THREADS threads each.

Why granian and not gunicorn: measured on this 2-core machine against the same application and database, a sync
gunicorn with 3 workers served /healthz at 449 requests/s, the login page at 385/s and one alarm event per request at
≈ 400/s; granian with 2 workers × 4 threads 850/s, 549/s and ≈ 600/s. gunicorn parses HTTP in Python and its sync
workers cannot keep a connection alive; granian parses in Rust, keeps connections alive and leaves the cores to
Django and PostgreSQL.

What gunicorn's configuration gave is kept: a worker that dies is started again (--respawn-failed-workers), a worker
whose memory grows past WEB_WORKER_MAX_RSS_MB is replaced (a leak in any library cannot grow without bound), SIGTERM
lets requests in flight finish for WEB_GRACEFUL_SECONDS, the access log goes to standard output (WEB_ACCESS_LOG=false
turns it off). TLS is terminated by the proxy in front, as before; this server speaks plain HTTP. Not kept: gunicorn's
kill of a worker whose request ran past 120 s. Long work runs as jobs, and the proxy in front bounds how long a client
waits; a request stuck beyond that holds one thread of WEB_THREADS, not the worker.

A respawned worker may reset connections queued on the old one unless the kernel moves them (sysctl
net.ipv4.tcp_migrate_req=1, Linux 5.14+; granian says so once at start when it is off)."""

import argparse
import os
import shutil
import sys


def argv(host: str, port: int) -> list[str]:
    env = os.environ.get
    granian = shutil.which("granian", path=os.path.dirname(sys.executable)) or "granian"
    return [
        granian,
        "--interface",
        "wsgi",
        "--host",
        host,
        "--port",
        str(port),
        "--workers",
        env("WEB_WORKERS", "2"),
        "--blocking-threads",
        env("WEB_THREADS", "4"),
        "--backlog",
        env("WEB_BACKLOG", "1024"),
        "--respawn-failed-workers",
        "--workers-max-rss",
        env("WEB_WORKER_MAX_RSS_MB", "1024"),
        "--workers-kill-timeout",
        env("WEB_GRACEFUL_SECONDS", "30"),
        "--log-level",
        env("WEB_LOG_LEVEL", "warning"),
        "--access-log" if env("WEB_ACCESS_LOG", "true").lower() in {"1", "true", "yes", "on"} else "--no-access-log",
        "gis_app.wsgi:application",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    options = parser.parse_args()
    args = argv(options.host, options.port)
    os.execv(args[0], args)  # granian becomes this process: signals from a supervisor reach it directly


if __name__ == "__main__":
    main()
