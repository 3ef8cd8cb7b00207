"""Demo history for the ledger: self-checks with some gaps, bureau patrols whose failed items became hazards, and those
hazards moved along their lifecycle by the real services, at the dates they would have happened. Idempotent."""

import random
from datetime import datetime, time, timedelta

from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from gis_app.carehomes.models import CareHome
from gis_app.inspections.models import ChecklistVersion, CheckResult, Frequency, Inspection, InspectionKind
from gis_app.inspections.services import InspectionInput, ItemAnswer, record_inspection
from gis_app.lib import clock

from . import services
from .models import Hazard

# A small valid PNG (4x3, red): demo "photos", so that submit and close-out find their evidence.
PIXEL = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000040000000308020000003b963991000000144944415478"
    "9c633c2127c700034c0c480085030026da010a40003b0f0000000049454e44ae426082"
)


def _at(day, hour=10):
    return timezone.make_aware(datetime.combine(day, time(hour)))


def _photo(name: str) -> ContentFile:
    return ContentFile(PIXEL, name=f"{name}.png")


@transaction.atomic
def load_demo_ledger(stdout=None) -> None:
    homes = list(CareHome.objects.filter(is_demo=True).order_by("credit_code"))
    if not homes or Inspection.objects.filter(care_home__in=homes).exists():
        return
    User = get_user_model()
    bureau = User.objects.get(username="bureau")
    today = clock.today()
    version = ChecklistVersion.in_force(today)
    rng = random.Random(20201)
    items_by_freq = {f: list(version.items.filter(frequency=f)) for f in Frequency.values}

    # Self-checks over the last 35 days, bulk-written (all items pass); most homes are diligent, a few are not.
    inspections, plans = [], []
    for home in homes:
        diligence = rng.choice([0.98, 0.95, 0.9, 0.75, 0.5])
        for back in range(35, 0, -1):
            day = today - timedelta(days=back)
            for freq in (Frequency.DAILY, Frequency.NIGHTLY):
                if rng.random() < diligence:
                    plans.append((home, freq, day))
            if day.weekday() == 0 and rng.random() < diligence:
                plans.append((home, Frequency.WEEKLY, day))
            if day.day == 1 and rng.random() < diligence:
                plans.append((home, Frequency.MONTHLY, day))
            for _ in range(2):
                if rng.random() < diligence:
                    plans.append((home, Frequency.SHIFT, day))
    for home, freq, day in plans:
        inspections.append(Inspection(care_home=home, kind=InspectionKind.SELF_CHECK, frequency=freq, version=version,
                                      inspected_on=day, signed_by_name=home.fire_safety_manager or "值班员",
                                      signed_at=_at(day, 20)))  # fmt: skip
    Inspection.objects.bulk_create(inspections, batch_size=2000)
    results = [
        CheckResult(inspection=i, care_home_id=i.care_home_id, item=item, result=CheckResult.Result.PASS)
        for i in inspections
        for item in items_by_freq[i.frequency]
    ]
    CheckResult.objects.bulk_create(results, batch_size=5000)

    # Bureau patrols whose failures become hazards through the real services.
    failing = ["L01", "B01", "E01", "Q01", "X02", "T01", "O01", "R01", "K01", "W01"]
    patrolled = rng.sample(homes, 30)
    for n, home in enumerate(patrolled):
        found = today - timedelta(days=rng.choice([3, 8, 15, 25, 40, 55, 70]))
        bad = set(rng.sample(failing, rng.choice([1, 1, 2])))
        if n == 0:
            bad.add("X01")  # one major hazard: an exit locked, under listed supervision
        answers = [
            ItemAnswer(
                item.code, "fail" if item.code in bad else "pass", "现场检查发现问题" if item.code in bad else ""
            )
            for item in version.items.all()
        ]
        with clock.travel(_at(found)):
            inspection = record_inspection(
                InspectionInput(care_home=home, kind=InspectionKind.PATROL, inspected_on=found, answers=answers,
                                signed_by_name="王科长", note="演示：区民政局日常巡查"),
                by=bureau,
            )  # fmt: skip
        for hazard in Hazard.objects.filter(inspection=inspection):
            _advance(hazard, bureau, rng, found, today)
    if stdout is not None:
        stdout.write(
            f"演示检查记录 {len(inspections)} 条，隐患 {Hazard.objects.filter(care_home__in=homes).count()} 条"
        )


def _advance(hazard: Hazard, bureau, rng: random.Random, found, today) -> None:
    """Moves a hazard along its life at plausible dates: some stop early (and may be overdue), some are closed."""
    stage = rng.choice(["reported", "assigned", "rectifying", "submitted", "closed", "closed", "spot"])
    day = found
    if hazard.severity == "major":
        stage = "rectifying"

    def step(days: int):
        nonlocal day
        day = min(today, day + timedelta(days=days))
        return clock.travel(_at(day, 11))

    if stage == "spot":
        with step(0):
            services.fix_on_spot(hazard, by=bureau, note="现场已整改", evidence=[_photo(f"spot-{hazard.pk}")])
        return
    if stage == "reported":
        return
    with step(1):
        services.assign(hazard, by=bureau, responsible_person=hazard.responsible_person or "院长")
    if hazard.severity == "major":
        with step(1):
            services.list_for_supervision(
                hazard, by=bureau, department="滨海新区民政局", deadline=today + timedelta(days=60)
            )
    if stage == "assigned":
        return
    with step(2):
        services.start_rectification(hazard, by=bureau)
    if hazard.severity == "major":
        with step(1):
            services.set_rectification_plan(hazard, by=bureau, measures="更换为推闩式安全门锁，增设门禁联动",
                                            safeguards="安排专人24小时值守，确保可随时开启", planned_on=today + timedelta(days=30))  # fmt: skip
    if stage == "rectifying":
        return
    with step(5):
        services.submit_for_verification(
            hazard, by=bureau, note="已整改完毕", after_photos=[_photo(f"after-{hazard.pk}")]
        )
    if stage == "submitted":
        return
    with step(2):
        services.verify(hazard, by=bureau, comment="复查合格")
    with step(0):
        services.close_out(hazard, by=bureau)
