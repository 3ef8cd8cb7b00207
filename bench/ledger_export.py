"""The full ledger of 100,000 hazards as the three lists (300,000 rows), against a baseline in the same process:
openpyxl write-only writing the same values from memory (the floor any exporter built on openpyxl can reach)."""

import io
import random
from datetime import date, timedelta

ROWS = 100_000


def generate(n: int) -> None:
    from django.contrib.auth import get_user_model

    from gis_app.carehomes.demo import load_demo
    from gis_app.carehomes.models import CareHome
    from gis_app.hazards.models import Category, Hazard, Status

    load_demo(ledger=False, layers=False)
    homes = list(CareHome.objects.all())
    rng = random.Random(1)
    bureau = get_user_model().objects.get(username="bureau")
    statuses = [s for s, _ in Status.choices]
    start = date(2024, 1, 1)
    batch = []
    for i in range(n):
        found = start + timedelta(days=rng.randrange(1000))
        batch.append(Hazard(care_home=rng.choice(homes), category=rng.choice(Category.values), found_on=found,
                            due_on=found + timedelta(days=30), status=rng.choice(statuses), found_by=bureau,
                            description=f"隐患描述 {i}：消防车通道被占用，需清理", responsible_person="张三",
                            responsible_phone="13800000000", rectification_note="已整改" if i % 2 else ""))  # fmt: skip
        if len(batch) == 10_000:
            Hazard.objects.bulk_create(batch)
            batch = []
    Hazard.objects.bulk_create(batch)


def run() -> list[list]:
    from openpyxl import Workbook

    from gis_app.hazards.exports import Scope, export_ledger, sheets_for

    generate(ROWS)
    scope = Scope.parse("district")
    from .common import timed

    platform_s, rows = timed(lambda: export_ledger(io.BytesIO(), scope), repeat=1)
    # Baseline: the same cell values, already in memory, straight into a write-only workbook.
    materialised = [(s.name, list(s.rows)) for s in sheets_for(scope)]

    def baseline():
        wb = Workbook(write_only=True)
        for name, data in materialised:
            ws = wb.create_sheet(name)
            for row in data:
                ws.append(row)
        wb.save(io.BytesIO())

    baseline_s, _ = timed(baseline, repeat=1)
    return [["ledger export, 100k hazards (3 sheets)", f"{rows:,} rows", f"{platform_s:.2f} s", f"{baseline_s:.2f} s",
             f"{platform_s / baseline_s:.2f}×", "finish in seconds"]]  # fmt: skip
