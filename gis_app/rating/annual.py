"""年度考核: per home and per 街镇 for a year, from the platform's own records."""

from datetime import date

from django.db.models import Count, Q

from gis_app.hazards.models import Hazard, Status
from gis_app.inspections.schedule import schedule_status
from gis_app.lib import clock

from .models import DrillRecord, StarAssessment


def annual_rows(homes, year: int) -> list[dict]:
    start, end = date(year, 1, 1), min(date(year, 12, 31), clock.today())
    if end < start:
        return []
    # The homes stay a subquery in every count below (never a list of 40,000 ids); each count is one aggregate.
    status = schedule_status(homes, start, end)
    ids = homes.order_by().values("pk")
    found = Hazard.objects.filter(care_home__in=ids, found_on__range=(start, end))
    by_home = {
        r["care_home_id"]: r
        for r in found.values("care_home_id").annotate(
            found=Count("id"), closed=Count("id", filter=Q(status=Status.CLOSED)),
            overdue=Count("id", filter=Q(status__in=[s for s in Status.values if s not in ("closed", "closed_unfixed")], due_on__lt=end)),
            majors=Count("id", filter=Q(severity="major")),
            majors_closed=Count("id", filter=Q(severity="major", status=Status.CLOSED)),
        )
    }  # fmt: skip
    drills = {
        r["care_home_id"]: r
        for r in DrillRecord.objects.filter(care_home__in=ids, held_on__range=(start, end)).values("care_home_id").annotate(
            drills=Count("id", filter=~Q(kind="training")), trainings=Count("id", filter=Q(kind="training"))
        )
    }  # fmt: skip
    stars = dict(
        StarAssessment.objects.filter(care_home__in=ids, year=year, status="reviewed").values_list(
            "care_home_id", "stars"
        )
    )
    rows = []
    named = homes.select_related("subdistrict").only("name", "subdistrict__name")  # no geometry parsed 40,000 times
    for h in named.order_by("subdistrict__code", "name"):
        s = status.get(h.pk, [])
        f = by_home.get(h.pk, {})
        d = drills.get(h.pk, {})
        rows.append({
            "home": h, "subdistrict": h.subdistrict.name if h.subdistrict else "—",
            "checks_due": sum(x.due for x in s), "checks_done": sum(x.done for x in s),
            "found": f.get("found", 0), "closed": f.get("closed", 0), "overdue": f.get("overdue", 0),
            "majors": f.get("majors", 0), "majors_closed": f.get("majors_closed", 0),
            "drills": d.get("drills", 0), "trainings": d.get("trainings", 0),
            "stars": ("不予评定" if stars[h.pk] is None else f"{stars[h.pk]}星") if h.pk in stars else "未评定",
        })  # fmt: skip
    return rows


def by_subdistrict(rows: list[dict]) -> list[dict]:
    out: dict[str, dict] = {}
    keys = ("checks_due", "checks_done", "found", "closed", "overdue", "majors", "majors_closed", "drills", "trainings")
    for r in rows:
        agg = out.setdefault(r["subdistrict"], {"subdistrict": r["subdistrict"], "homes": 0, **dict.fromkeys(keys, 0)})
        agg["homes"] += 1
        for k in keys:
            agg[k] += r[k]
    return list(out.values())
