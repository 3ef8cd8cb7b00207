import os
import re
from datetime import date, timedelta
from itertools import groupby
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.files.storage import default_storage
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render

from gis_app.carehomes.scope import visible_carehomes, visible_subdistricts
from gis_app.lib import clock
from gis_app.lib.excel import Column, Sheet, xlsx_response
from gis_app.lib.idempotency import new_form_token, submission_uuid

from .models import ChecklistVersion, CheckResult, Frequency, Inspection, InspectionKind
from .schedule import missed_periods, missed_table, scheduled_frequencies
from .services import (
    InspectionError,
    InspectionInput,
    InspectorEntry,
    ItemAnswer,
    allowed_kinds,
    items_for,
    record_inspection,
)

MISSED_PAGE = 100  # homes per page of 漏检统计 (a province has 40,000)
SUBS_SHOWN = 200  # 街镇 rows on the page (a country has 3,000; the Excel has them all)


def _date(text: str | None, default: date) -> date:
    try:
        return date.fromisoformat(text) if text else default
    except ValueError:
        return default


@login_required
def inspection_new(request, home_pk: int):
    home = get_object_or_404(visible_carehomes(request.user), pk=home_pk)
    kinds = [k for k in InspectionKind if k in allowed_kinds(request.user)]
    if not kinds:
        raise PermissionDenied("您的角色不能录入检查")
    data = request.POST if request.method == "POST" else request.GET
    kind = data.get("kind") if data.get("kind") in kinds else kinds[0]
    frequency = data.get("frequency") or None
    if frequency not in Frequency.values:
        frequency = Frequency.DAILY if kind == InspectionKind.SELF_CHECK else None
    inspected_on = _date(data.get("inspected_on"), clock.today())
    version = ChecklistVersion.in_force(inspected_on)
    items = list(items_for(version, frequency)) if version else []
    errors: dict[str, str] = {}
    submission = request.POST.get("submission", "")[:64]
    kept: dict[str, str] = {}  # item code -> a photo chosen on an earlier, refused post (kept in temporary storage)
    if request.method == "POST":
        answers = []
        for item in items:
            photo = request.FILES.get(f"photo_{item.code}")
            if photo is None:
                name = kept_photo_name(request.user, submission, item.code, request.POST.get(f"kept_photo_{item.code}"))
                if name is not None:
                    kept[item.code] = name
                    photo = default_storage.open(name)
                    photo.name = name.rsplit("/", 1)[-1]
            else:
                kept[item.code] = photo
            result = request.POST.get(f"result_{item.code}")
            if not result:
                continue
            lon, lat = request.POST.get(f"lon_{item.code}"), request.POST.get(f"lat_{item.code}")
            try:
                lon_f, lat_f = (float(lon), float(lat)) if lon and lat else (None, None)
            except ValueError:
                errors[f"item:{item.code}"] = "经纬度应为数字"
                continue
            answers.append(
                ItemAnswer(item.code, result, request.POST.get(f"note_{item.code}", ""), photo, lon_f, lat_f)
            )
        inspectors = [
            InspectorEntry(n.strip(), o.strip())
            for n, o in zip(request.POST.getlist("inspector_name"), request.POST.getlist("inspector_org"), strict=False)
            if n.strip()
        ]
        if len(answers) < len(items) and not errors:
            errors["answers"] = f"还有 {len(items) - len(answers)} 个检查项未填写结果"
        if not errors:
            try:
                inspection = record_inspection(
                    InspectionInput(care_home=home, kind=kind, frequency=frequency, inspected_on=inspected_on,
                                    signed_by_name=request.POST.get("signed_by_name", ""), answers=answers,
                                    inspectors=inspectors, note=request.POST.get("note", ""),
                                    uuid=submission_uuid(request.user, request.POST.get("submission", "")[:64])),
                    by=request.user,
                )  # fmt: skip
            except InspectionError as exc:
                errors = exc.errors
            else:
                forget_kept_photos(request.user, submission)
                if getattr(inspection, "replayed", False):
                    messages.info(request, "这份检查已经提交过（重复提交未再保存）")
                    return redirect("inspection-detail", pk=inspection.pk)
                failed = inspection.results.filter(result=CheckResult.Result.FAIL).count()
                messages.success(
                    request, "检查已保存" + (f"，{failed} 个不合格项已生成隐患" if failed else "，全部合格")
                )
                return redirect("inspection-detail", pk=inspection.pk)
    if errors and request.method == "POST":
        # Refused: every answer comes back as it was, and a photo chosen for an item is kept for the next post.
        kept = {
            code: f if isinstance(f, str) else keep_photo(request.user, submission, code, f) for code, f in kept.items()
        }
        for item in items:
            item.posted_result = request.POST.get(f"result_{item.code}", "")
            item.posted_note = request.POST.get(f"note_{item.code}", "")
            item.kept_photo = kept.get(item.code)
    groups = [(place, list(its)) for place, its in groupby(items, key=lambda i: i.key_place)]
    inspectors_in = list(
        zip(request.POST.getlist("inspector_name"), request.POST.getlist("inspector_org"), strict=False)
    )
    return render(request, "inspections/new.html", {
        "home": home, "kinds": kinds, "kind": kind, "frequency": frequency, "frequencies": Frequency.choices,
        "inspected_on": inspected_on, "version": version, "groups": groups, "errors": errors, "post": request.POST,
        "item_errors": {k.removeprefix("item:"): v for k, v in errors.items() if k.startswith("item:")},
        "form_errors": {k: v for k, v in errors.items() if not k.startswith("item:")},
        # One token per form shown (kept when the form comes back with errors): a second post of it is a repeat.
        "submission": submission or new_form_token(),
        "inspectors_in": (inspectors_in + [("", "")] * 2)[: max(2, len(inspectors_in))],
    })  # fmt: skip


@login_required
def inspection_detail(request, pk: int):
    inspection = get_object_or_404(
        Inspection.objects.filter(care_home__in=visible_carehomes(request.user)).select_related("care_home", "version"),
        pk=pk,
    )
    results = inspection.results.select_related("item__key_place", "hazard")
    return render(request, "inspections/detail.html", {"inspection": inspection, "results": results,
                                                         "inspectors": inspection.inspectors.all()})  # fmt: skip


@login_required
def missed_checks(request):
    today = clock.today()
    end = min(_date(request.GET.get("to"), today), today)
    start = _date(request.GET.get("from"), end - timedelta(days=29))
    if start > end:
        start = end
    subdistricts = visible_subdistricts(request.user).only("code", "name")  # a province: 3,000 boundaries unparsed
    # Names only: a 街镇's boundary or a home's point parsed 40,000 times costs seconds a province never needs here.
    homes = visible_carehomes(request.user).select_related("subdistrict").only("name", "subdistrict__name")
    code = request.GET.get("subdistrict", "")
    if code:
        homes = homes.filter(subdistrict__code=code)
    table = missed_table(homes, start, end)
    start, end = table.start, table.end
    rows, by_subdistrict = table.rows, table.by_subdistrict
    frequencies = [Frequency(f).label for f in scheduled_frequencies(end)]
    first_two = list(subdistricts.values_list("name", flat=True)[:2])  # names only: a country has 3,000 街镇
    scope = subdistricts.filter(code=code).values_list("name", flat=True).first() if code else None
    if scope is None:
        scope = first_two[0] if len(first_two) == 1 else "全部街镇"
    # The drill-down: one home's missed days, shifts, weeks … of the window.
    detail_home, details = None, None
    if raw := request.GET.get("home", ""):
        detail_home = homes.filter(pk=int(raw)).first() if raw.isdigit() else None
        if detail_home is None:
            raise Http404("没有这家养老机构，或不在您的管辖范围内")
        details = missed_periods(detail_home.pk, start, end)
    if request.GET.get("format") == "xlsx":
        return _missed_xlsx(scope, start, end, frequencies, rows, by_subdistrict, detail_home, details)
    window = {"from": f"{start:%Y-%m-%d}", "to": f"{end:%Y-%m-%d}", **({"subdistrict": code} if code else {})}
    page = Paginator(rows, MISSED_PAGE).get_page(request.GET.get("page"))  # a province: 40,000 rows, 100 a page
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "inspections/missed.html", {
        "rows": page.object_list, "page": page, "homes_total": page.paginator.count, "frequencies": frequencies,
        "start": start, "end": end, "building": table.building, "asked": table.asked, "subdistricts": subdistricts,
        "choose_subdistrict": len(first_two) > 1,
        "code": code, "scope": scope, "by_subdistrict": by_subdistrict[:SUBS_SHOWN], "subs_total": len(by_subdistrict),
        "query": query.urlencode(), "window": urlencode(window), "detail_home": detail_home, "details": details,
    })  # fmt: skip


KEPT_PHOTO = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".heic")


def _kept_dir(user, submission: str) -> str | None:
    return f"tmp/inspection/{user.pk}/{submission}" if KEPT_PHOTO.match(submission or "") else None


def keep_photo(user, submission: str, code: str, upload) -> str | None:
    """Stores a photo of a refused post in temporary storage, under this user and form; returns its name."""
    folder = _kept_dir(user, submission)
    suffix = os.path.splitext(upload.name or "")[1].lower()
    if folder is None or suffix not in PHOTO_SUFFIXES:
        return None
    name = f"{folder}/{code}{suffix}"
    if default_storage.exists(name):
        default_storage.delete(name)
    upload.seek(0)
    return default_storage.save(name, upload)


def kept_photo_name(user, submission: str, code: str, name: str | None) -> str | None:
    """The kept photo named by a form, only if it is this user's, this form's and this item's (never any path)."""
    folder = _kept_dir(user, submission)
    if folder is None or not name:
        return None
    allowed = {f"{folder}/{code}{suffix}" for suffix in PHOTO_SUFFIXES}
    return name if name in allowed and default_storage.exists(name) else None


def forget_kept_photos(user, submission: str) -> None:
    folder = _kept_dir(user, submission)
    if folder is None or not default_storage.exists(folder):
        return
    _, files = default_storage.listdir(folder)
    for name in files:
        default_storage.delete(f"{folder}/{name}")


def _period_text(m) -> str:
    return f"{m.start:%Y-%m-%d}" if m.start == m.end else f"{m.start:%Y-%m-%d} 至 {m.end:%Y-%m-%d}"


def _missed_xlsx(scope: str, start: date, end: date, frequencies, rows, by_subdistrict, detail_home, details):
    period = f"{start:%Y-%m-%d} 至 {end:%Y-%m-%d}"
    columns = [Column("养老机构", 30), Column("街镇", 14), *[Column(f, 10, "int") for f in frequencies]]
    body = [
        [
            r["home"].name,
            r["home"].subdistrict.name if r["home"].subdistrict else "—",
            *[s.missed for s in r["statuses"]],
        ]
        + [r["missed"]]
        for r in rows
    ]
    homes = Sheet("按养老机构", f"漏检统计（{scope}，{period}）", [*columns, Column("合计漏检", 10, "int")], body)
    streets = Sheet(
        "按街镇",
        f"漏检统计按街镇汇总（{scope}，{period}）",
        [Column("街镇", 16), Column("养老机构", 10, "int"), Column("漏检次数", 10, "int")],
        [[name, agg[0], agg[1]] for name, agg in by_subdistrict],
    )
    if detail_home is None:
        return xlsx_response(f"漏检统计-{scope}-{end:%Y%m%d}", [homes, streets])
    detail = Sheet(
        "漏检明细",
        f"漏检明细（{detail_home.name}，{period}）",
        [Column("频次", 10), Column("周期", 26), Column("应完成次数", 12, "int"), Column("已完成次数", 12, "int")],
        [[m.label, _period_text(m), m.need, m.done] for m in details],
    )
    return xlsx_response(f"漏检明细-{detail_home.name}-{end:%Y%m%d}", [detail, homes, streets])
