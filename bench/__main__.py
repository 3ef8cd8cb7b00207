"""make bench: every benchmark, each against a baseline measured in the same process (ratios survive noisy machines)."""

import sys

from .common import bench_database, setup_django, table


def main() -> None:
    setup_django()
    from . import (
        alarms_load,
        backup_roundtrip,
        field_pull,
        layers_serving,
        ledger_export,
        pages_national,
        risk_national,
        routing,
        sync_fuzz,
    )

    which = set(sys.argv[1:]) or {"layers", "ledger", "risk", "alarms", "routing", "backup", "pull"}
    if "routing" in which:
        print(table(routing.run(), ["instance", "time", "found", "reference", "gap", "checker", "goal"]))
        which.discard("routing")
        if not which:
            return
    if "pages" in which:  # opt-in: builds the national data (a few minutes), then times each page
        with bench_database():
            rows = pages_national.run()
        print(
            table(rows, ["page (national scale)", "bureau (sees all)", "one 街镇 office", "≤ 300 ms warm, ≤ 1 s cold"])
        )
        which.discard("pages")
        if not which:
            return
    results = []
    if "fuzz" in which:  # opt-in: about an hour for 1,000 cases (real QGIS per generation)
        results += sync_fuzz.run()
    if "layers" in which:
        with bench_database():
            results += layers_serving.run()
    if "risk" in which:
        with bench_database():
            results += risk_national.run()
    if "alarms" in which:
        with bench_database():
            results += alarms_load.run()
    if "backup" in which:
        with bench_database():
            results += backup_roundtrip.run()
    if "pull" in which:
        with bench_database():
            results += field_pull.run()
    if "ledger" in which:
        with bench_database():
            results += ledger_export.run()
    print(table(results, ["benchmark", "size", "platform", "baseline", "ratio", "goal"]))


if __name__ == "__main__":
    sys.exit(main())
