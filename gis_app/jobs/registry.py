"""Job handlers by kind. Each app declares its handlers in a `jobs.py` module with @handler("kind")."""

from collections.abc import Callable

from django.utils.module_loading import autodiscover_modules

HANDLERS: dict[str, Callable] = {}


def handler(kind: str):
    def register(func: Callable) -> Callable:
        HANDLERS[kind] = func
        return func

    return register


def get_handler(kind: str) -> Callable:
    if not HANDLERS:
        autodiscover_modules("jobs")
    return HANDLERS[kind]
