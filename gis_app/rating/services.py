from datetime import timedelta

from django.db import transaction

from gis_app.carehomes.models import Role
from gis_app.carehomes.scope import profile_of, role_of, visible_carehomes
from gis_app.hazards.services import HazardError
from gis_app.lib import clock

from .models import StarAssessment
from .scoring import compute, items, platform_facts, rubric_in_force


def _clean(spec: dict, raw: dict, *, every_item: bool = False) -> dict[str, float]:
    """Deductions per rubric item. A review (`every_item`) must give each item a value explicitly, 0 included: a blank
    item is refused, never read as "no deduction" (an untouched review form used to award full marks)."""
    out, errors = {}, []
    limits = {i["code"]: (i["label"], float(i["max"])) for i in items(spec)}
    if every_item:
        blank = [
            label
            for code, (label, _) in limits.items()
            if str(raw.get(code) if raw.get(code) is not None else "").strip() == ""
        ]
        if blank:
            raise HazardError(
                "review_incomplete",
                f"审核须逐项评分（无扣分请填 0），尚有 {len(blank)} 项未评：{'、'.join(blank[:5])}"
                + ("等" if len(blank) > 5 else ""),
            )
    for code, value in raw.items():
        if code not in limits:
            errors.append(f"未知评分项 {code}")
            continue
        try:
            number = float(value or 0)
        except (TypeError, ValueError):
            errors.append(f"{limits[code][0]}：扣分应为数字")
            continue
        if not 0 <= number <= limits[code][1]:
            errors.append(f"{limits[code][0]}：扣分应在 0 到 {limits[code][1]:g} 之间")
            continue
        out[code] = number
    if errors:
        raise HazardError("invalid_deductions", "；".join(errors))
    return out


def self_assess(home, *, by, deductions: dict, note: str = "") -> StarAssessment:
    role = role_of(by)
    own = role == Role.CARE_HOME and profile_of(by).care_home_id == home.pk
    if not (own or role == Role.BUREAU) or not visible_carehomes(by).filter(pk=home.pk).exists():
        raise HazardError("forbidden", "只有本机构或区民政局可以填写自评")
    rubric = rubric_in_force()
    clean = _clean(rubric.spec, deductions)
    year = clock.today().year
    with transaction.atomic():
        current = StarAssessment.objects.select_for_update().filter(care_home=home, year=year).first()
        if current is not None and current.status == StarAssessment.Status.REVIEWED:
            raise HazardError("already_reviewed", f"{year}年度已审核，不能再修改自评")
        assessment = current or StarAssessment(care_home=home, year=year)
        assessment.rubric, assessment.self_deductions, assessment.self_note = rubric, clean, note
        assessment.self_by, assessment.self_at = by, clock.now()
        assessment.save()
    return assessment


def review(assessment: StarAssessment, *, by, deductions: dict, note: str = "") -> StarAssessment:
    if role_of(by) != Role.BUREAU:
        raise HazardError("forbidden", "只有区民政局可以审核星级评定")
    clean = _clean(assessment.rubric.spec, deductions, every_item=True)
    facts = platform_facts(assessment.care_home)
    result = compute(assessment.rubric.spec, clean, facts)
    with transaction.atomic():
        locked = StarAssessment.objects.select_for_update().get(pk=assessment.pk)
        locked.review_deductions, locked.review_note, locked.platform_facts = clean, note, facts
        locked.score, locked.stars, locked.vetoes = result["score"], result["stars"], result["vetoes"]
        locked.reviewed_by, locked.reviewed_at = by, clock.now()
        locked.valid_until = clock.today() + timedelta(days=365)
        locked.status = StarAssessment.Status.REVIEWED
        locked.save()
    return locked


def current_rating(home, today=None):
    """The reviewed rating in force for a home, or None."""
    today = today or clock.today()
    return (
        StarAssessment.objects.filter(care_home=home, status=StarAssessment.Status.REVIEWED, valid_until__gte=today)
        .order_by("-reviewed_at").first()
    )  # fmt: skip
