"""Star rating: deductions per item capped at the item's maximum, per category capped at the category's cap, vetoes
applied last. The platform's own data suggest deductions; the home self-assesses, the bureau reviews."""

import json
from datetime import date, timedelta
from pathlib import Path

from django.conf import settings

from gis_app.hazards.models import DishonestyListEntry, Hazard
from gis_app.inspections.models import CheckResult
from gis_app.lib import clock

from .models import DrillRecord, RatingRubric

DEFAULT_FILE = Path(settings.BASE_DIR) / "fixtures" / "rating_rubric_default.json"


def load_default_rubric(path: Path = DEFAULT_FILE) -> RatingRubric:
    spec = json.loads(Path(path).read_text(encoding="utf-8"))
    rubric, _ = RatingRubric.objects.update_or_create(
        version=spec["version"],
        defaults={"title": spec["title"], "effective_on": spec["effective_on"], "is_default": spec.get("is_default", False),
                  "spec": spec},
    )  # fmt: skip
    return rubric


def rubric_in_force(day: date | None = None) -> RatingRubric:
    day = day or clock.today()
    return (
        RatingRubric.objects.filter(effective_on__lte=day).order_by("-effective_on", "-id").first()
        or load_default_rubric()
    )


def items(spec: dict) -> list[dict]:
    return [
        {**item, "category": c["code"], "category_label": c["label"]} for c in spec["categories"] for item in c["items"]
    ]


def platform_facts(home, today: date | None = None) -> dict:
    """What the platform knows about a home, shown beside the manual scores."""
    from gis_app.carehomes.models import CareHome
    from gis_app.inspections.schedule import schedule_status

    today = today or clock.today()
    year_ago = today - timedelta(days=365)
    hazards = Hazard.objects.filter(care_home=home)
    statuses = schedule_status(CareHome.objects.filter(pk=home.pk), today - timedelta(days=29), today).get(home.pk, [])
    drills = DrillRecord.objects.filter(care_home=home, held_on__gt=year_ago, held_on__lte=today)
    return {
        "open_major": hazards.open().major().count(),
        "overdue_hazards": hazards.overdue(today).count(),
        "missed_checks": sum(s.missed for s in statuses),
        "failed_items": CheckResult.objects.filter(
            care_home=home, result="fail", inspection__inspected_on__gte=today - timedelta(days=90)
        ).count(),
        "drills_held": drills.exclude(kind=DrillRecord.Kind.TRAINING).count(),
        "trainings_held": drills.filter(kind=DrillRecord.Kind.TRAINING).count(),
        "dishonesty": DishonestyListEntry.objects.current(today).filter(care_home=home, subject="care_home").exists(),
    }


def suggested_deductions(spec: dict, facts: dict) -> dict[str, float]:
    """The deductions the platform's data imply, for the items that name a platform source."""
    rules = {
        "missed_checks": lambda f: f["missed_checks"] * 1,
        "overdue_hazards": lambda f: f["overdue_hazards"] * 20,
        "failed_items": lambda f: f["failed_items"] * 5,
        "trainings_held": lambda f: 0 if f["trainings_held"] >= 1 else float("inf"),
        "drills_held": lambda f: max(0, 2 - f["drills_held"]) * 38,
    }
    out = {}
    for item in items(spec):
        source = item.get("platform")
        if source in rules:
            out[item["code"]] = min(float(item["max"]), float(rules[source](facts)))
    return out


def compute(spec: dict, deductions: dict, facts: dict) -> dict:
    """{score, stars (None: barred from rating), vetoes, categories: [{code, label, deducted, cap}]}."""
    categories, total_deducted = [], 0.0
    for c in spec["categories"]:
        deducted = 0.0
        for item in c["items"]:
            value = float(deductions.get(item["code"], 0) or 0)
            deducted += min(max(value, 0.0), float(item["max"]))
        deducted = min(deducted, float(c["cap"]))
        categories.append({"code": c["code"], "label": c["label"], "deducted": deducted, "cap": c["cap"]})
        total_deducted += deducted
    score = float(spec["total"]) - total_deducted
    stars = next(s for threshold, s in spec["thresholds"] if score >= threshold)
    vetoes = []
    for veto in spec.get("vetoes", []):
        hit = (veto["code"] == "open_major" and facts.get("open_major", 0) > 0) or (
            veto["code"] == "dishonesty" and facts.get("dishonesty")
        )
        if not hit:
            continue
        vetoes.append(veto["label"])
        if veto["effect"] == "cap" and stars is not None:
            stars = min(stars, int(veto["stars"]))
        elif veto["effect"] == "bar":
            stars = None
    return {"score": round(score, 1), "stars": stars, "vetoes": vetoes, "categories": categories}
