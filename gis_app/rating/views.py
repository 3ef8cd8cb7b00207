from datetime import date

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render

from gis_app.carehomes.models import Role
from gis_app.carehomes.scope import profile_of, role_of, visible_carehomes, visible_subdistricts
from gis_app.hazards.services import HazardError
from gis_app.lib import clock
from gis_app.lib.excel import Column, Sheet, xlsx_response
from gis_app.lib.files import validate_evidence

from . import services
from .annual import annual_table
from .models import DrillRecord, StarAssessment
from .scoring import compute, items, platform_facts, rubric_in_force, suggested_deductions


@login_required
def home_rating(request, pk: int):
    home = get_object_or_404(visible_carehomes(request.user), pk=pk)
    rubric = rubric_in_force()
    year = clock.today().year
    assessment = StarAssessment.objects.filter(care_home=home, year=year).first()
    role = role_of(request.user)
    is_own = role == Role.CARE_HOME and profile_of(request.user).care_home_id == home.pk
    if request.method == "POST":
        deductions = {i["code"]: request.POST.get(f"d_{i['code']}", "") for i in items(rubric.spec)}
        note = request.POST.get("note", "")
        try:
            if request.POST.get("action") == "review":
                if assessment is None:
                    raise HazardError("no_self_assessment", "机构尚未自评")
                services.review(assessment, by=request.user, deductions=deductions, note=note)
                messages.success(request, "已审核")
            else:
                services.self_assess(home, by=request.user, deductions=deductions, note=note)
                messages.success(request, "自评已提交")
        except HazardError as exc:
            messages.error(request, exc.message)
        return redirect("home-rating", pk=home.pk)
    facts = platform_facts(home)
    suggested = suggested_deductions(rubric.spec, facts)
    rows = [
        {**i, "suggested": suggested.get(i["code"]), "self": (assessment.self_deductions.get(i["code"]) if assessment else None),
         "review": (assessment.review_deductions.get(i["code"]) if assessment else None)}
        for i in items(rubric.spec)
    ]  # fmt: skip
    preview = compute(rubric.spec, assessment.self_deductions if assessment else suggested, facts)
    return render(request, "rating/home.html", {
        "home": home, "rubric": rubric, "assessment": assessment, "rows": rows, "facts": facts, "preview": preview,
        "can_self": (is_own or role == Role.BUREAU) and not (assessment and assessment.status == "reviewed"),
        "can_review": role == Role.BUREAU and assessment is not None,
        "history": StarAssessment.objects.filter(care_home=home).exclude(year=year),
    })  # fmt: skip


class DrillForm(forms.ModelForm):
    class Meta:
        model = DrillRecord
        fields = ["held_on", "kind", "participants", "content", "first_response_1min", "second_force_3min",
                  "evacuation_organised", "publicity_done", "attachment"]  # fmt: skip
        widgets = {"held_on": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")}

    def clean_attachment(self):
        upload = self.cleaned_data.get("attachment")
        if upload and hasattr(upload, "read"):
            validate_evidence(upload)
        return upload

    def clean_held_on(self):
        day = self.cleaned_data["held_on"]
        if day > clock.today():
            raise forms.ValidationError("日期不能晚于今天")
        return day


@login_required
def home_drills(request, pk: int):
    home = get_object_or_404(visible_carehomes(request.user), pk=pk)
    role = role_of(request.user)
    can_add = role == Role.BUREAU or (role == Role.CARE_HOME and profile_of(request.user).care_home_id == home.pk)
    form = DrillForm(request.POST or None, request.FILES or None)
    if request.method == "POST":
        if not can_add:
            raise PermissionDenied("只有本机构或区民政局可以登记培训演练")
        if form.is_valid():
            drill = form.save(commit=False)
            drill.care_home, drill.recorded_by = home, request.user
            drill.save()
            messages.success(request, "已登记")
            return redirect("home-drills", pk=home.pk)
    today = clock.today()
    half = date(today.year, 1 if today.month <= 6 else 7, 1)
    due = {
        "drill_this_half": DrillRecord.objects.filter(care_home=home, held_on__gte=half).exclude(kind="training").exists(),
        "training_this_year": DrillRecord.objects.filter(care_home=home, held_on__gte=date(today.year, 1, 1), kind="training").exists(),
    }  # fmt: skip
    return render(
        request,
        "rating/drills.html",
        {"home": home, "drills": home.drills.all(), "form": form, "can_add": can_add, "due": due},
    )


ANNUAL_PAGE = 100
SUBS_SHOWN = 200  # 街镇 rows on the page (a country has 3,000; the Excel has them all)


@login_required
def annual(request):
    today = clock.today()
    try:
        year = int(request.GET.get("year", today.year))
        if not 2000 <= year <= today.year + 1:
            raise ValueError
    except ValueError:
        if "year" in request.GET:
            messages.error(request, f"年份“{request.GET['year'][:10]}”无效，已显示{today.year}年度。")
        year = today.year
    homes = visible_carehomes(request.user)
    code = request.GET.get("subdistrict", "")
    if code:
        homes = homes.filter(subdistrict__code=code)
    xlsx = request.GET.get("format") == "xlsx"
    table = annual_table(homes, year, subs_shown=None if xlsx else SUBS_SHOWN)
    rows, subs = table.rows, table.subs
    if xlsx:
        head = [Column("应检", 8, "int"), Column("已检", 8, "int"), Column("发现隐患", 10, "int"), Column("销号", 8, "int"),
                Column("逾期", 8, "int"), Column("重大隐患", 10, "int"), Column("重大已销号", 10, "int"), Column("演练", 8, "int"),
                Column("培训", 8, "int")]  # fmt: skip
        keys = [
            "checks_due",
            "checks_done",
            "found",
            "closed",
            "overdue",
            "majors",
            "majors_closed",
            "drills",
            "trainings",
        ]
        return xlsx_response(f"{year}年度考核", [
            Sheet("按养老机构", f"{year}年度养老机构消防安全考核", [Column("养老机构", 30), Column("街镇", 12), *head, Column("星级", 10)],
                  [[r["home"].name, r["subdistrict"], *[r[k] for k in keys], r["stars"]] for r in rows]),
            Sheet("按街镇", f"{year}年度各街镇考核汇总", [Column("街镇", 14), Column("养老机构", 10, "int"), *head],
                  [[s["subdistrict"], s["homes"], *[s[k] for k in keys]] for s in subs]),
        ])  # fmt: skip
    page = Paginator(rows, ANNUAL_PAGE).get_page(request.GET.get("page"))  # a province: 40,000 homes, 100 a page
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "rating/annual.html", {"rows": page.object_list, "page": page, "query": query.urlencode(),
                                                  "homes_total": page.paginator.count, "subs": subs[:SUBS_SHOWN],
                                                  "subs_total": table.subs_total, "year": year, "code": code,
                                                  "building": table.building, "as_of": table.as_of,
                                                  "subdistricts": visible_subdistricts(request.user).only("code", "name"),
                                                  "years": range(today.year, 2019, -1)})  # fmt: skip
