"""Job handlers by kind. Each app declares its handlers in a `jobs.py` module with @handler("kind")."""

from collections.abc import Callable

from django.utils.module_loading import autodiscover_modules

HANDLERS: dict[str, Callable] = {}


def handler(kind: str):
    def register(func: Callable) -> Callable:
        HANDLERS[kind] = func
        return func

    return register


_discovered = False


def discover() -> None:
    """Imports every app's jobs module once (a module imported on its own before must not stop the others)."""
    global _discovered
    if not _discovered:
        autodiscover_modules("jobs")
        _discovered = True


def get_handler(kind: str) -> Callable:
    if kind not in HANDLERS:
        discover()
    return HANDLERS[kind]


# Daily jobs: kind -> title. The worker enqueues each once a day (from DAILY_JOBS_HOUR on), keyed by the date.
DAILY: dict[str, str] = {}


def daily(kind: str, title: str):
    def register(func: Callable) -> Callable:
        HANDLERS[kind] = func
        DAILY[kind] = title
        return func

    return register


# Frequent jobs: kind -> (title, interval in minutes). The worker enqueues each once per interval.
FREQUENT: dict[str, tuple[str, int]] = {}


def every_minutes(kind: str, title: str, minutes: int):
    def register(func: Callable) -> Callable:
        HANDLERS[kind] = func
        FREQUENT[kind] = (title, minutes)
        return func

    return register


# Who else may follow a job (its page and status): kind -> (user, job) -> bool. The creator and the bureau always may;
# an app adds those who may see what the job works on (e.g. everyone who may see a route plan follows its planning).
VISIBLE_TO: dict[str, Callable] = {}


def visible_to(kind: str):
    def register(func: Callable) -> Callable:
        VISIBLE_TO[kind] = func
        return func

    return register


def may_follow(user, job) -> bool:
    discover()
    check = VISIBLE_TO.get(job.kind)
    return bool(check and check(user, job))
