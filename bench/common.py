"""Benchmarks run on their own throwaway PostGIS database (<name>_bench), created and dropped per run."""

import os
import statistics
import time
from contextlib import contextmanager


def setup_django():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gis_app.settings")
    # the production settings as `make run` serves them on 127.0.0.1: plain http opted out explicitly
    os.environ.setdefault("DJANGO_INSECURE_HTTP", "true")
    os.environ.setdefault("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")
    import django

    django.setup()


@contextmanager
def bench_database():
    from django.db import connection

    connection.settings_dict["TEST"] = {
        **connection.settings_dict.get("TEST", {}),
        "NAME": connection.settings_dict["NAME"] + "_bench",
    }
    old = connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    try:
        yield
    finally:
        connection.creation.destroy_test_db(old, verbosity=0)


def timed(fn, repeat: int = 3) -> tuple[float, object]:
    """Median wall time of `repeat` runs (seconds) and the last result."""
    times, result = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), result


def table(rows: list[list], headers: list[str]) -> str:
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows, strict=False)]
    line = lambda r: "  ".join(str(x).ljust(w) for x, w in zip(r, widths, strict=False))  # noqa: E731
    return "\n".join([line(headers), line(["-" * w for w in widths]), *map(line, rows)])
