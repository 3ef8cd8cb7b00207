"""Numbers for the bureau's dashboard: plain functions over querysets (tests check them; templates only show them)."""

import json
from datetime import date, timedelta
from pathlib import Path

from django.conf import settings
from django.db.models import Count, Exists, OuterRef, Q
from django.db.models.functions import TruncMonth

from gis_app.hazards.models import Category, Hazard, Status
from gis_app.inspections.models import Inspection
from gis_app.lib import clock

from .models import Campaign, CampaignPhase


def load_campaigns(path: Path | None = None) -> int:
    data = json.loads(Path(path or Path(settings.BASE_DIR) / "fixtures" / "campaigns.json").read_text(encoding="utf-8"))
    for c in data:
        campaign, _ = Campaign.objects.update_or_create(
            code=c["code"], defaults={"title": c["title"], "start_on": c["start_on"], "end_on": c["end_on"]}
        )
        for i, p in enumerate(c["phases"], start=1):
            CampaignPhase.objects.update_or_create(
                campaign=campaign, order=i, defaults={k: p[k] for k in ("name", "start_on", "end_on", "goal", "metric")}
            )
    return len(data)


def _share(part: int, whole: int) -> float:
    return round(100 * part / whole, 1) if whole else 100.0


def phase_progress(metric: str, homes) -> tuple[float, str]:
    """(percent, explanation) of one phase metric over the given homes, from the platform's own data."""
    total = homes.count()
    hazards = Hazard.objects.filter(care_home__in=homes)
    if metric == CampaignPhase.Metric.COMMITMENT:
        n = homes.exclude(commitment_on=None).count()
        return _share(n, total), f"{n}/{total} 家已承诺"
    if metric == CampaignPhase.Metric.SELF_CHECKED:
        # EXISTS, not IN: PostgreSQL then probes the per-home index instead of hashing millions of rows (#20).
        n = homes.filter(Exists(Inspection.objects.filter(kind="self_check", care_home=OuterRef("pk")))).count()
        return _share(n, total), f"{n}/{total} 家已自查"
    if metric == CampaignPhase.Metric.MAJORS_CLOSED:
        majors = hazards.major()
        n, m = majors.filter(status=Status.CLOSED).count(), majors.count()
        return _share(n, m), f"{n}/{m} 条重大隐患已销号"
    if metric == CampaignPhase.Metric.ZERO_OPEN:
        # NOT EXISTS, not NOT IN: the NOT IN form ran as a scan of ~581k open hazards per home at national scale.
        n = homes.filter(~Exists(Hazard.objects.open().filter(care_home=OuterRef("pk")))).count()
        return _share(n, total), f"{n}/{total} 家无在办隐患"
    raise ValueError(metric)


def campaign_status(homes, today: date | None = None, progress=None) -> list[dict]:
    """Each phase of the campaign with its progress: counted over `homes`, or given by `progress(metric)` (the
    stored district figures)."""
    today = today or clock.today()
    progress = progress or (lambda metric: phase_progress(metric, homes))
    out = []
    campaign = Campaign.objects.prefetch_related("phases").first()
    if campaign is None:
        return out
    for phase in campaign.phases.all():
        percent, text = progress(phase.metric)
        state = "已结束" if phase.end_on < today else "进行中" if phase.start_on <= today else "未开始"
        out.append({"phase": phase, "percent": percent, "text": text, "state": state, "campaign": campaign})
    return out


def monthly_found_closed(homes, months: int = 12, today: date | None = None) -> list[dict]:
    today = today or clock.today()
    start = (today.replace(day=1) - timedelta(days=31 * (months - 1))).replace(day=1)
    hazards = Hazard.objects.filter(care_home__in=homes)
    found = dict(
        hazards.filter(found_on__gte=start).annotate(m=TruncMonth("found_on")).values_list("m").annotate(n=Count("id"))
    )
    closed = dict(
        hazards.filter(status=Status.CLOSED, closed_on__gte=start)
        .annotate(m=TruncMonth("closed_on"))
        .values_list("m")
        .annotate(n=Count("id"))
    )
    out, m = [], start
    while m <= today:
        out.append({"month": m, "found": found.get(m, 0), "closed": closed.get(m, 0)})
        m = (m.replace(day=28) + timedelta(days=4)).replace(day=1)
    return out


def by_category(homes) -> list[dict]:
    rows = dict(Hazard.objects.filter(care_home__in=homes).values_list("category").annotate(n=Count("id", filter=Q())))
    return [
        {"category": label, "code": code, "count": rows.get(code, 0)}
        for code, label in Category.choices
        if rows.get(code)
    ]


def year_numbers(homes, year: int) -> dict:
    """Found and closed out in a calendar year."""
    hazards = Hazard.objects.filter(care_home__in=homes)
    return {
        "found": hazards.filter(found_on__year=year).count(),
        "closed": hazards.filter(status=Status.CLOSED, closed_on__year=year).count(),
    }


def year_months(homes, year: int, today: date | None = None) -> list[dict]:
    """Found and closed per month of a year (up to this month for the current year)."""
    today = today or clock.today()
    last = today if year == today.year else date(year, 12, 31)
    months = (last.year - year) * 12 + last.month
    return [m for m in monthly_found_closed(homes, months=months, today=last) if m["month"].year == year]


def key_numbers(homes, today: date | None = None) -> dict:
    today = today or clock.today()
    hazards = Hazard.objects.filter(care_home__in=homes)
    return {
        "homes": homes.count(),
        "open": hazards.open().count(),
        "overdue": hazards.overdue(today).count(),
        "open_major": hazards.open().major().count(),
        "closed": hazards.filter(status=Status.CLOSED).count(),
        "found": hazards.count(),
    }


# Above this many homes a whole-district user's 风险看板 reads the stored district figures (risk.recompute keeps them,
# at most a minute behind the ledger); below it everything is counted directly (fast, and exact to the second).
STORED_ABOVE = 2000
DETAIL_YEARS = 7  # the year selector's reach


def district_details(today: date | None = None) -> dict:
    """What 风险看板 shows for the whole district besides the stored key numbers, by the functions the page itself uses
    for a smaller scope (so both paths answer the same): categories, found/closed per month, campaign phases."""
    from gis_app.carehomes.models import CareHome

    today = today or clock.today()
    homes = CareHome.objects.all()
    months = monthly_found_closed(homes, months=12 * DETAIL_YEARS, today=today)
    return {
        "categories": {c["code"]: c["count"] for c in by_category(homes)},
        "months": {f"{m['month']:%Y-%m}": [m["found"], m["closed"]] for m in months},
        "phases": {metric: list(phase_progress(metric, homes)) for metric in CampaignPhase.Metric.values},
    }


def stored_view(details: dict, year: int, today: date | None = None) -> dict:
    """The dashboard's figures from the stored district details (as the live functions shape them)."""
    today = today or clock.today()
    last = today if year == today.year else date(year, 12, 31)
    monthly, m = [], date(year, 1, 1)
    while m <= last:
        found, closed = details["months"].get(f"{m:%Y-%m}", [0, 0])
        monthly.append({"month": m, "found": found, "closed": closed})
        m = (m.replace(day=28) + timedelta(days=4)).replace(day=1)
    categories = [
        {"category": label, "code": code, "count": details["categories"][code]}
        for code, label in Category.choices
        if details["categories"].get(code)
    ]
    year_numbers = {"found": sum(x["found"] for x in monthly), "closed": sum(x["closed"] for x in monthly)}
    phases = campaign_status(None, today, progress=lambda metric: tuple(details["phases"][metric]))
    return {"monthly": monthly, "categories": categories, "year_numbers": year_numbers, "phases": phases}
