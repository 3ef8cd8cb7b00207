"""年度考核: per home and per 街镇 for a year, from the platform's own records.

For a 街镇 or a district the figures are counted directly; for a province they are stored per home and year
(gis_app/lib/snapshots.py): built by a background job, kept exact by triggers on what they count, read a page at a time.
"""

from dataclasses import dataclass, field
from datetime import date

from django.db.models import Count, IntegerField, Q, Sum
from django.db.models.fields.json import KT
from django.db.models.functions import Cast

from gis_app.carehomes.models import CareHome, Subdistrict
from gis_app.hazards.models import Hazard, Status
from gis_app.inspections.schedule import LIVE_MAX, enqueue_build, schedule_signature, schedule_status
from gis_app.lib import clock
from gis_app.lib.snapshots import Snapshot, StoredRows

from .models import AnnualFigures, AnnualWindow, DrillRecord, StarAssessment

KEYS = ("checks_due", "checks_done", "found", "closed", "overdue", "majors", "majors_closed", "drills", "trainings")


def year_window(year: int) -> tuple[date, date] | None:
    start, end = date(year, 1, 1), min(date(year, 12, 31), clock.today())
    return None if end < start else (start, end)


def _figures(homes, start: date, end: date) -> dict[int, tuple[dict, int]]:
    """{home id: ({KEYS…, "stars"}, 0)} for `homes` over [start, end]; each count is one aggregate and the homes stay a
    subquery (never a list of 40,000 ids)."""
    status = schedule_status(homes, start, end)
    ids = homes.order_by().values("pk")
    found = Hazard.objects.filter(care_home__in=ids, found_on__range=(start, end))
    open_statuses = [s for s in Status.values if s not in ("closed", "closed_unfixed")]
    by_home = {
        r["care_home_id"]: r
        for r in found.values("care_home_id").annotate(
            found=Count("id"),
            closed=Count("id", filter=Q(status=Status.CLOSED)),
            overdue=Count("id", filter=Q(status__in=open_statuses, due_on__lt=end)),
            majors=Count("id", filter=Q(severity="major")),
            majors_closed=Count("id", filter=Q(severity="major", status=Status.CLOSED)),
        )
    }
    drills = {
        r["care_home_id"]: r
        for r in DrillRecord.objects.filter(care_home__in=ids, held_on__range=(start, end))
        .values("care_home_id")
        .annotate(drills=Count("id", filter=~Q(kind="training")), trainings=Count("id", filter=Q(kind="training")))
    }
    stars = dict(
        StarAssessment.objects.filter(care_home__in=ids, year=start.year, status="reviewed").values_list(
            "care_home_id", "stars"
        )
    )
    out = {}
    for home_id in homes.order_by().values_list("pk", flat=True):
        s, f, d = status.get(home_id, []), by_home.get(home_id, {}), drills.get(home_id, {})
        out[home_id] = (
            {
                "checks_due": sum(x.due for x in s),
                "checks_done": sum(x.done for x in s),
                **{k: f.get(k, 0) for k in ("found", "closed", "overdue", "majors", "majors_closed")},
                "drills": d.get("drills", 0),
                "trainings": d.get("trainings", 0),
                "stars": ("不予评定" if stars[home_id] is None else f"{stars[home_id]}星")
                if home_id in stars
                else "未评定",
            },
            0,
        )
    return out


def _signature(start: date, end: date) -> str:
    return f"annual;{schedule_signature(start, end)}"


ANNUAL = Snapshot(AnnualFigures, AnnualWindow, _figures, _signature, CareHome)


def _stored_row(f: AnnualFigures) -> dict:
    sub = f.care_home.subdistrict
    return {"home": f.care_home, "subdistrict": sub.name if sub else "—", **f.figures}


@dataclass
class AnnualTable:
    year: int
    rows: object = field(default_factory=list)  # {"home", "subdistrict", KEYS…, "stars"} by 街镇 code and name
    subs: list[dict] = field(default_factory=list)  # per 街镇: {"subdistrict", "homes", KEYS…}
    subs_total: int = 0  # 街镇 in the table (subs may hold only the first ones)
    building: object = None  # the job storing the year's figures, while it runs (a province's scale)
    as_of: date | None = None  # the figures' last day when the current year's are from an earlier build


def annual_table(homes, year: int, subs_shown: int | None = None) -> AnnualTable:
    """The year's table for `homes`: stored figures when the year is built, counted directly up to LIVE_MAX homes,
    else the year's build is started (and the current year's last build shown meanwhile, if any). `subs_shown`: only
    the first so many 街镇 (by code) are summed (a page; the Excel sums them all); `subs_total` counts them all."""
    window = year_window(year)
    if window is None:
        return AnnualTable(year)
    start, end = window
    building, as_of = None, None
    if not ANNUAL.is_built(start, end):
        if homes.count() <= LIVE_MAX:
            return _annual_live(homes, year, start, end)
        building = enqueue_build(ANNUAL, "rating.build_annual", f"统计{year}年度考核", start, end)
        shown = next((b for b in ANNUAL.built_model.objects.filter(start=start).order_by("-end")[:1]), None)
        if shown is None:
            return AnnualTable(year, building=building)
        end = as_of = shown.end
    ANNUAL.refresh(homes, start, end)  # from here on every home in `homes` has its row
    stored = ANNUAL.rows(homes, start, end).select_related("care_home__subdistrict")
    stored = stored.only("figures", "care_home__name", "care_home__subdistrict__name", "care_home__subdistrict__code")
    ordered = stored.order_by("care_home__subdistrict__code", "care_home__name", "care_home_id")
    named = []  # the 街镇 of `homes` by code, when a page shows only the first ones
    if subs_shown is not None:
        in_scope = Subdistrict.objects.filter(pk__in=homes.order_by().values("subdistrict_id"))
        named = list(in_scope.order_by("code").values_list("pk", flat=True))
    if subs_shown is not None and len(named) > subs_shown:  # a country's 3,000: sum the first ones only
        sums = _sums(ANNUAL.rows(homes, start, end).filter(care_home__subdistrict__in=named[:subs_shown]))
        subs_total = len(named) + homes.filter(subdistrict=None).exists()
        # a page within those 街镇 reads their rows only (no sort of every home)
        sections = ("care_home__subdistrict", [(pk, s["homes"]) for pk, s in sums])
        rows = StoredRows(ordered, _stored_row, total=homes.count(), sections=sections)
    else:
        sums = _sums(ANNUAL.rows(homes, start, end))
        subs_total = len(sums)
        rows = StoredRows(ordered, _stored_row, total=sum(s["homes"] for _, s in sums))
    return AnnualTable(year, rows, [s for _, s in sums], subs_total, building=building, as_of=as_of)


def _sums(rows) -> list[tuple[int | None, dict]]:
    """Per 街镇 (by code; homes without one last, as "—"): its id, and the homes and the sum of each figure."""
    sums = {k: Sum(Cast(KT(f"figures__{k}"), IntegerField())) for k in KEYS}
    grouped = rows.values("care_home__subdistrict_id", "care_home__subdistrict__code", "care_home__subdistrict__name")
    return [
        (
            r["care_home__subdistrict_id"],
            {
                "subdistrict": r["care_home__subdistrict__name"] or "—",
                "homes": r["homes"],
                **{k: r[k] or 0 for k in KEYS},
            },
        )
        for r in grouped.annotate(homes=Count("id"), **sums).order_by("care_home__subdistrict__code")
    ]


def _annual_live(homes, year: int, start: date, end: date) -> AnnualTable:
    figures = _figures(homes, start, end)
    rows = []
    named = homes.select_related("subdistrict").only("name", "subdistrict__name")  # no geometry parsed 40,000 times
    for h in named.order_by("subdistrict__code", "name", "pk"):
        rows.append({"home": h, "subdistrict": h.subdistrict.name if h.subdistrict else "—", **figures[h.pk][0]})
    subs = by_subdistrict(rows)
    return AnnualTable(year, rows, subs, len(subs))


def by_subdistrict(rows) -> list[dict]:
    out: dict[str, dict] = {}
    for r in rows:
        agg = out.setdefault(r["subdistrict"], {"subdistrict": r["subdistrict"], "homes": 0, **dict.fromkeys(KEYS, 0)})
        agg["homes"] += 1
        for k in KEYS:
            agg[k] += r[k]
    return list(out.values())
