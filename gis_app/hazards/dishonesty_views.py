from datetime import date

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from gis_app.carehomes.models import Role
from gis_app.carehomes.scope import role_of
from gis_app.lib import clock
from gis_app.lib.excel import Column, Sheet, xlsx_response

from . import dishonesty
from .models import DishonestyListEntry
from .services import HazardError

DEPARTMENTS = ["区市场监管局", "区消防救援支队", "区人力资源和社会保障局", "区发展改革委（信用办）", "属地街镇"]


def _bureau(request) -> None:
    if role_of(request.user) != Role.BUREAU:
        raise PermissionDenied("只有区民政局可以管理失信联合惩戒名单")


@login_required
def dishonesty_list(request):
    _bureau(request)
    today = clock.today()
    if request.method == "POST":
        key = request.POST.get("candidate", "")
        kind, _, pk = key.partition(":")
        candidate = next(
            (c for c in dishonesty.candidates(today)
             if (kind == "hazard" and c.hazard and str(c.hazard.pk) == pk)
             or (kind == "accident" and c.responsibility and str(c.responsibility.pk) == pk)),
            None,
        )  # fmt: skip
        try:
            removal_on = date.fromisoformat(request.POST.get("removal_on", ""))
        except ValueError:
            messages.error(request, "请填写移出日期")
            return redirect("dishonesty-list")
        if candidate is None:
            messages.error(request, "该候选已不符合条件或已列入")
            return redirect("dishonesty-list")
        try:
            entry = dishonesty.list_entry(by=request.user, candidate=candidate, removal_on=removal_on,
                                          basis=request.POST.get("basis", ""))  # fmt: skip
        except HazardError as exc:
            messages.error(request, exc.message)
            return redirect("dishonesty-list")
        messages.success(request, "已列入失信联合惩戒名单，请打印书面通报")
        return redirect("dishonesty-notice", pk=entry.pk)
    default_removal = today.replace(year=today.year + dishonesty.DEFAULT_LISTING_YEARS)
    return render(request, "hazards/dishonesty.html", {
        "candidates": dishonesty.candidates(today), "entries": DishonestyListEntry.objects.select_related("care_home")[:500],
        "default_removal": default_removal, "today": today,
    })  # fmt: skip


def _entry(request, pk: int) -> DishonestyListEntry:
    _bureau(request)
    return get_object_or_404(DishonestyListEntry.objects.select_related("care_home", "decided_by"), pk=pk)


@login_required
def notice(request, pk: int):
    return render(request, "hazards/dishonesty_notice.html", {"entry": _entry(request, pk), "departments": DEPARTMENTS})


@login_required
def notice_xlsx(request, pk: int):
    entry = _entry(request, pk)
    rows = [["对象", entry.subject_name], ["对象类型", entry.get_subject_display()], ["所属养老机构", entry.care_home.name],
            ["列入依据", entry.basis], ["列入日期", entry.listed_on], ["移出日期", entry.removal_on],
            ["通报单位", "、".join(DEPARTMENTS)], ["决定单位", "滨海新区民政局"]]  # fmt: skip
    return xlsx_response(f"失信联合惩戒通报-{entry.pk}", [Sheet("书面通报", f"关于将{entry.subject_name}列入失信联合惩戒名单的通报",
                         [Column("事项", 16), Column("内容", 80, "text")], rows)])  # fmt: skip


@login_required
@require_POST
def remove(request, pk: int):
    entry = _entry(request, pk)
    try:
        dishonesty.remove_entry(entry, by=request.user)
        messages.success(request, "已移出名单")
    except HazardError as exc:
        messages.error(request, exc.message)
    return redirect("dishonesty-list")
