import json
from types import SimpleNamespace

from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.db.models import Avg, Max
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.gzip import gzip_page
from drf_spectacular.utils import extend_schema
from rest_framework.views import APIView

from gis_app.carehomes.models import Role
from gis_app.carehomes.scope import role_of, visible_carehomes, visible_subdistricts
from gis_app.hazards.models import Category, Hazard
from gis_app.lib import clock
from gis_app.lib.api import answers, component
from gis_app.lib.excel import Column, Sheet, xlsx_response
from gis_app.lib.maps import base_map, render_parts

from . import dashboard, heat_cells, maps, queries
from .models import RiskModel, RiskScore, SubdistrictRisk
from .scoring import aggregate_values

METRICS = {
    "mean_risk": ("平均风险分", lambda r: r.mean_risk),
    "max_risk": ("最高风险分", lambda r: r.max_risk),
    "open_total": ("在办隐患", lambda r: r.open_general + r.open_major),
    "open_major": ("在办重大隐患", lambda r: r.open_major),
    "overdue": ("逾期隐患", lambda r: r.overdue),
    "zero_out_rate": ("清零率（%）", lambda r: round(100 * r.zero_out_rate, 1)),
}
TABLE_COLUMNS = [Column("街镇", 14), Column("养老机构", 10, "int"), Column("在办一般隐患", 12, "int"), Column("在办重大隐患", 12, "int"),
                 Column("逾期", 8, "int"), Column("累计发现", 10, "int"), Column("累计销号", 10, "int"), Column("近30天销号", 12, "int"),
                 Column("清零率（%）", 12), Column("平均风险分", 12), Column("最高风险分", 12)]  # fmt: skip


ROW_FIELDS = [f.name for f in SubdistrictRisk._meta.concrete_fields if f.name not in ("id", "subdistrict", "details")]


def _row(values: dict) -> SimpleNamespace:
    values = dict(values)
    code, name = values.pop("subdistrict__code"), values.pop("subdistrict__name")
    return SimpleNamespace(**values, subdistrict=SimpleNamespace(code=code, name=name) if code else None)


# Roles whose scope is whole 街镇s read the stored aggregates; the others see figures over their own homes only.
WHOLE_SUBDISTRICT_ROLES = (Role.BUREAU, Role.FIRE_RESCUE, Role.SUBDISTRICT)
WHOLE_DISTRICT_ROLES = (Role.BUREAU, Role.FIRE_RESCUE)


def scoped_values(user) -> tuple[list[dict], dict | None]:
    """(rows per visible 街镇, the district row or None) as plain dicts: 3,000 rows in tens of milliseconds."""
    role = role_of(user)
    if role not in WHOLE_SUBDISTRICT_ROLES:
        return aggregate_values(list(visible_carehomes(user).values_list("pk", flat=True))), None
    qs = SubdistrictRisk.objects.values("subdistrict_id", "subdistrict__code", "subdistrict__name", *ROW_FIELDS)
    rows = qs.exclude(subdistrict=None)
    district = None
    if role in (Role.BUREAU, Role.FIRE_RESCUE):
        district = next(iter(qs.filter(subdistrict=None)[:1]), None)
    else:
        rows = rows.filter(subdistrict__in=visible_subdistricts(user))
    return list(rows.order_by("subdistrict__code")), district


def scoped_rows(user):
    rows, district = scoped_values(user)
    return [_row(r) for r in rows], (_row(district) if district else None)


def row_values(r) -> list:
    rate = round(100 * r.zero_out_rate, 1) if r.found_total else "—"  # nothing found: no rate, not 100 %
    counts = [r.homes, r.open_general, r.open_major, r.overdue, r.found_total, r.closed_total, r.closed_in_period]
    return [r.subdistrict.name if r.subdistrict else "全区", *counts, rate, r.mean_risk, r.max_risk]


def _risk_row_schema() -> dict:
    numbers = {name: {"type": "number"} for name in ROW_FIELDS if name != "computed_at"}
    for name in numbers:
        field = SubdistrictRisk._meta.get_field(name)
        if field.get_internal_type() in ("IntegerField", "PositiveIntegerField", "BigIntegerField"):
            numbers[name] = {"type": "integer"}
    props = {
        "code": {"type": "string", "nullable": True, "description": "the 街镇 code (null: the district)"},
        "name": {"type": "string"},
        **numbers,
        "computed_at": {"type": "string", "format": "date-time"},
    }
    return {"type": "object", "required": list(props), "properties": props, "additionalProperties": False}


RISK_ROW = component("SubdistrictRisk", _risk_row_schema())
RISK = component(
    "SubdistrictRiskList",
    {
        "type": "object",
        "required": ["subdistricts", "district"],
        "properties": {
            "subdistricts": {"type": "array", "items": RISK_ROW},
            "district": {**RISK_ROW, "nullable": True, "description": "the whole district (district-wide roles only)"},
        },
    },
)


class SubdistrictsAPI(APIView):
    """GET /api/risk/subdistricts/: the stored aggregates per 街镇 in your scope (and the district for district-wide roles)."""

    @extend_schema(
        operation_id="risk_subdistricts",
        description="Risk figures per 街镇 in your scope; a care home or a third party gets figures over its own homes.",
        responses={200: RISK, **answers(401)},
    )
    def get(self, request):
        # The aggregates change only when they are recomputed: cache the rendered answer per scope and computation.
        stamp = SubdistrictRisk.objects.aggregate(m=Max("computed_at"))["m"]
        role = role_of(request.user)
        scope = role if role in (Role.BUREAU, Role.FIRE_RESCUE) else f"user{request.user.pk}"
        key = f"risk-api:{scope}:{stamp.isoformat() if stamp else 'none'}"
        body = cache.get(key)
        if body is None:
            rows, district = scoped_values(request.user)
            data = {"subdistricts": [as_dict(r) for r in rows], "district": as_dict(district) if district else None}
            body = json.dumps(data, ensure_ascii=False).encode()
            cache.set(key, body, 3600)
        return HttpResponse(body, content_type="application/json; charset=utf-8")


def as_dict(r: dict) -> dict:
    out = {k: r[k] for k in ROW_FIELDS}
    out["computed_at"] = r["computed_at"].isoformat()
    return {"code": r["subdistrict__code"], "name": r["subdistrict__name"] or "全区", **out}


TABLE_ROWS = 200


@login_required
def risk_map(request):
    metric = request.GET.get("metric", "mean_risk")
    if metric not in METRICS:
        metric = "mean_risk"
    rows, district = scoped_rows(request.user)
    if request.GET.get("format") == "xlsx":
        body = [row_values(r) for r in rows] + ([row_values(district)] if district else [])
        return xlsx_response(
            "街镇风险汇总", [Sheet("街镇风险汇总", f"街镇风险汇总（{clock.today():%Y-%m-%d}）", TABLE_COLUMNS, body)]
        )
    label, value = METRICS[metric]
    rows = sorted(rows, key=lambda r: (-(value(r) or 0), r.subdistrict.name))  # the riskiest first, ranked
    for rank, r in enumerate(rows, 1):
        r.rank = rank
    m, legend = maps.choropleth(rows, label, value)
    # The map shows every 街镇; the table the TABLE_ROWS riskiest by the metric (a country has 3,000: rendering them all
    # took ~0.6 s; the Excel export has them all).
    return render(request, "risk/map.html", {**render_parts(m), "rows": rows[:TABLE_ROWS], "rows_total": len(rows),
                                             "district": district, "metric": metric,
                                             "metrics": [(k, v[0]) for k, v in METRICS.items()], "legend": legend,
                                             "label": label})  # fmt: skip


@login_required
def subdistrict_detail(request, code: str):
    sub = visible_subdistricts(request.user).filter(code=code).first()
    if sub is None:
        raise Http404
    scores = (RiskScore.objects.filter(care_home__in=visible_carehomes(request.user).filter(subdistrict=sub))
              .select_related("care_home").order_by("-score"))  # fmt: skip
    if request.GET.get("format") == "xlsx":
        body = [[s.care_home.name, s.care_home.address, s.care_home.beds, s.score] for s in scores]
        return xlsx_response(f"{sub.name}养老机构风险", [Sheet(sub.name, f"{sub.name} 养老机构风险（{clock.today():%Y-%m-%d}）",
                    [Column("养老机构", 30), Column("地址", 40), Column("床位", 8, "int"), Column("风险分", 10)], body)])  # fmt: skip
    from gis_app.carehomes.maps import overview_map
    from gis_app.hazards.views import home_hazard_summary

    homes = visible_carehomes(request.user).filter(subdistrict=sub)
    summary = home_hazard_summary(homes)
    scores = list(scores)
    for rank, s in enumerate(scores, 1):  # ranked by score; open, major and overdue hazards beside it
        s.rank, s.hazards = rank, summary.get(s.care_home_id, {"open": 0, "major": 0, "overdue": 0})
    m = overview_map(homes=homes, subdistricts=visible_subdistricts(request.user).filter(pk=sub.pk), hazards=summary)
    return render(
        request,
        "risk/subdistrict.html",
        {"sub": sub, "scores": scores, "agg": _subdistrict_figures(request.user, sub), **render_parts(m)},
    )


def _subdistrict_figures(user, sub):
    if role_of(user) in WHOLE_SUBDISTRICT_ROLES:
        return SubdistrictRisk.objects.filter(subdistrict=sub).first()
    rows = aggregate_values(list(visible_carehomes(user).filter(subdistrict=sub).values_list("pk", flat=True)))
    return _row(rows[0]) if rows else None


def _stored_district(user):
    """The stored district figures, for a whole-district user of a province (more than STORED_ABOVE homes)."""
    if role_of(user) not in WHOLE_DISTRICT_ROLES:
        return None
    district = SubdistrictRisk.objects.filter(subdistrict=None).first()
    if district is None or not district.details or district.homes <= dashboard.STORED_ABOVE:
        return None
    return district


@login_required
def risk_dashboard(request):
    homes = visible_carehomes(request.user)
    this_year = clock.today().year
    raw = request.GET.get("year", "")
    year = int(raw) if raw.isdigit() and 2000 <= int(raw) <= this_year else this_year
    top = RiskScore.objects.filter(care_home__in=homes).select_related("care_home__subdistrict").order_by("-score")[:10]
    overdue_majors = (
        Hazard.objects.filter(care_home__in=homes).overdue().major().select_related("care_home").order_by("due_on")[:20]
    )
    district = _stored_district(request.user)
    if district is not None:  # a province: the stored district figures (risk.recompute, at most a minute behind)
        stored = dashboard.stored_view(district.details, year)
        monthly, categories, phases = stored["monthly"], stored["categories"], stored["phases"]
        year_numbers, mean = stored["year_numbers"], district.mean_risk
        numbers = {
            "homes": district.homes,
            "open": district.open_general + district.open_major,
            "overdue": district.overdue,
            "open_major": district.open_major,
            "closed": district.closed_total,
            "found": district.found_total,
        }
    else:
        monthly, categories = dashboard.year_months(homes, year), dashboard.by_category(homes)
        phases, year_numbers = dashboard.campaign_status(homes), dashboard.year_numbers(homes, year)
        numbers = dashboard.key_numbers(homes)
        mean = RiskScore.objects.filter(care_home__in=homes).aggregate(a=Avg("score"))["a"] or 0
    if request.GET.get("format") == "xlsx":
        return xlsx_response("风险看板", [
            Sheet("风险前十", "风险最高的养老机构", [Column("养老机构", 30), Column("街镇", 12), Column("风险分", 10)],
                  [[s.care_home.name, s.care_home.subdistrict.name if s.care_home.subdistrict else "", s.score] for s in top]),
            Sheet("逾期重大隐患", "逾期未整改的重大隐患", [Column("养老机构", 30), Column("隐患", 50), Column("整改期限", 12, "date"), Column("逾期天数", 10, "int")],
                  [[h.care_home.name, h.description, h.due_on, h.days_overdue] for h in overdue_majors]),
            Sheet("月度隐患", "每月发现与销号", [Column("月份", 10), Column("发现", 8, "int"), Column("销号", 8, "int")],
                  [[f"{m['month']:%Y-%m}", m["found"], m["closed"]] for m in monthly]),
            Sheet("隐患类别", "隐患类别", [Column("类别", 20), Column("隐患数", 10, "int")], [[c["category"], c["count"]] for c in categories]),
        ])  # fmt: skip
    peak = max([max(m["found"], m["closed"]) for m in monthly] + [1])
    cat_peak = max([c["count"] for c in categories] + [1])
    return render(request, "risk/dashboard.html", {
        "numbers": numbers, "phases": phases, "top": top, "year": year,
        "years": list(range(this_year, max(2019, this_year - 6), -1)), "year_numbers": year_numbers,
        "today": clock.today(), "overdue_majors": overdue_majors, "monthly": monthly, "peak": peak,
        "categories": categories, "cat_peak": cat_peak, "mean": mean, "stored_at": district and district.computed_at,
    })  # fmt: skip


@login_required
def heatmap(request):
    from gis_app.carehomes.maps import with_context

    m = with_context(base_map(), visible_subdistricts(request.user))
    months = [f"{x['month']:%Y-%m}" for x in dashboard.monthly_found_closed(visible_carehomes(request.user), months=24)]
    return render(
        request,
        "risk/heatmap.html",
        {
            **render_parts(m),
            "months": months,
            "month_count": len(months),
            "categories": Category.choices,
            "hex_max_hazards": f"{queries.HEX_MAX_HAZARDS:,}",
        },
    )


@login_required
def heat_data(request):
    raw = request.GET.get("zoom", "10")
    if not raw.isdigit() or not 0 <= int(raw) <= 22:
        return JsonResponse({"detail": "zoom must be an integer from 0 to 22"}, status=400)
    try:
        points, total = queries.heat_bins(request.user, request.GET, int(raw))
    except queries.FilterError as exc:
        return JsonResponse({"detail": str(exc)}, status=400)
    return JsonResponse({"points": points, "total": total})


@login_required
@gzip_page  # a province's 8 km hexagons: ~760 kB of GeoJSON, a tenth of it gzipped
def hex_data(request):
    raw = request.GET.get("zoom", "12")  # the finest grid unless the map says its zoom
    if not raw.isdigit() or not 0 <= int(raw) <= 22:
        return JsonResponse({"detail": "zoom must be an integer from 0 to 22"}, status=400)
    try:
        text = queries.hex_cells(request.user, request.GET, heat_cells.hex_grid_for_zoom(int(raw)))
    except queries.FilterError as exc:
        return JsonResponse({"detail": str(exc)}, status=400)
    return HttpResponse(text, content_type="application/geo+json")


@login_required
def method(request):
    return render(request, "risk/method.html", {"model": RiskModel.current()})
