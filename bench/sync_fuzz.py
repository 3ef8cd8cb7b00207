"""The sync fuzz (#13) at benchmark size: tests/test_sync_fuzz.py with SYNC_FUZZ_CASES seeded random interleavings
(default here 1,000) of web edits, field edits, deletes, regenerations and imports, each checked against the
invariants. Each case regenerates projects with real QGIS, so 1,000 cases take about an hour: it runs only when asked
(`make bench BENCH_ARGS=fuzz`), not in the default set."""

import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run() -> list[list]:
    cases = int(os.environ.get("SYNC_FUZZ_CASES", "1000"))
    env = {**os.environ, "SYNC_FUZZ_CASES": str(cases), "DJANGO_ALLOW_ASYNC_UNSAFE": "true"}
    t = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_sync_fuzz.py"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - t
    summary = (done.stdout.strip().splitlines() or [""])[-1]
    passed = int(m.group(1)) if (m := re.search(r"(\d+) passed", summary)) else 0
    failed = int(m.group(1)) if (m := re.search(r"(\d+) failed", summary)) else 0
    return [
        [
            f"sync fuzz: {cases:,} seeded interleavings, invariants after every step",
            f"{cases:,} cases",
            f"{passed:,} passed, {failed:,} failed in {seconds / 60:.0f} min",
            "—",
            "—",
            "all pass",
        ]
    ]
