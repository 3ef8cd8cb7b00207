from pathlib import PurePosixPath

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.gis.geos import Point
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count, Exists, F, OuterRef, Q
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.dateparse import parse_datetime
from django.views.decorators.http import require_POST

from gis_app.carehomes.models import Role
from gis_app.carehomes.scope import role_of, visible_carehomes, visible_subdistricts
from gis_app.jobs.models import JobStatus
from gis_app.jobs.services import enqueue
from gis_app.jobs.views import _visible_job
from gis_app.lib import clock, media
from gis_app.lib.idempotency import new_form_token, submission_uuid
from gis_app.lib.keyset import keyset_page

from . import ledger_counts, services
from . import permissions as perms
from .forms import ActionForm, HazardFilterForm, HazardReportForm, ListingForm
from .models import OPEN_STATUSES, Hazard, Status, SupervisionListing


def sees_every_hazard(user) -> bool:
    return role_of(user) in (Role.BUREAU, Role.FIRE_RESCUE)


def visible_hazards(user):
    if sees_every_hazard(user):  # the whole district: no join against every home
        return Hazard.objects.all()
    return Hazard.objects.filter(care_home__in=visible_carehomes(user))


LEDGER_PAGE = 50


@login_required
def hazard_list(request):
    form = HazardFilterForm(request.GET or None, subdistricts=visible_subdistricts(request.user).only("code", "name"))
    base = visible_hazards(request.user)
    hazards = form.filter(base).select_related("care_home__subdistrict", "key_place")
    today = clock.today()
    if sees_every_hazard(request.user) and not form.narrows():
        counts, overdue_count = ledger_counts.figures(today)  # the whole ledger: its stored counts
    else:  # one pass for every figure of the page: the count per status and the overdue ones among them
        overdue = Q(status__in=OPEN_STATUSES, due_on__lt=today)
        rows = hazards.order_by().values_list("status").annotate(n=Count("id"), late=Count("id", filter=overdue))
        counts = {status: n for status, n, _ in rows}
        overdue_count = sum(late for _, _, late in rows)
    page = keyset_page(hazards, request.GET, field="found_on", size=LEDGER_PAGE)  # no OFFSET over a million rows
    query = request.GET.copy()
    for key in ("page", "after", "before"):
        query.pop(key, None)
    home = visible_carehomes(request.user).filter(pk=form.cleaned_data.get("home")).first() if form.is_valid() else None
    return render(
        request,
        "hazards/list.html",
        {
            "form": form,
            "page": page,
            "query": query.urlencode(),
            "home": home,
            "total": sum(counts.values()),
            "status_counts": [(label, counts.get(value, 0), value) for value, label in Status.choices],
            "overdue_count": overdue_count,
            "export_scope": form.export_scope(),
        },
    )


@login_required
def hazard_detail(request, pk: int):
    hazard = get_object_or_404(
        visible_hazards(request.user).select_related(
            "care_home", "key_place", "criterion__criterion_set", "inspection"
        ),
        pk=pk,
    )
    listing = SupervisionListing.objects.filter(hazard=hazard).prefetch_related("entries").first()
    return render(
        request,
        "hazards/detail.html",
        {
            "hazard": hazard,
            "events": hazard.events.all(),
            "photos": hazard.photos.all(),
            "listing": listing,
            "actions": services.allowed_actions(request.user, hazard),
            "rules": services.RULES,
            "form": ActionForm(),
            "can_list": perms.can_list_for_supervision(request.user)
            and hazard.severity == "major"
            and hazard.is_open
            and listing is None,
            "can_track": listing is not None
            and listing.is_active
            and perms.can_track_supervision(request.user, hazard),
            "can_delist": listing is not None and listing.is_active and perms.can_list_for_supervision(request.user),
            "listing_form": ListingForm(),
        },
    )


@login_required
def hazard_notice(request, pk: int):
    """消防安全隐患整改通知书: the printable notice the bureau hands to a home (A4, with signature lines)."""
    hazard = get_object_or_404(
        visible_hazards(request.user).select_related("care_home", "key_place", "criterion"),
        pk=pk,
    )
    return render(request, "hazards/notice.html", {"hazard": hazard, "issuer": "滨海新区民政局"})


@login_required
@require_POST
def hazard_action(request, pk: int, action: str):
    hazard = get_object_or_404(visible_hazards(request.user), pk=pk)
    form = ActionForm(request.POST, request.FILES)
    if action not in services.RULES or not form.is_valid():
        messages.error(request, "提交的内容无效：" + "; ".join(e for errs in form.errors.values() for e in errs))
        return redirect("hazard-detail", pk=pk)
    d, user = form.cleaned_data, request.user
    photos = request.FILES.getlist("photos")
    version = parse_datetime(request.POST.get("version", "")) if request.POST.get("version") else None
    try:
        with services.expecting(version):
            services.perform(action, hazard, by=user, data=d, photos=photos)
    except services.HazardError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"已{services.RULES[action].label}")
    return redirect("hazard-detail", pk=pk)


@login_required
def hazard_new(request, home_pk: int):
    home = get_object_or_404(visible_carehomes(request.user), pk=home_pk)
    if not perms.can_report_hazard(request.user, home):
        raise PermissionDenied("您无权为该养老机构上报隐患")
    form = HazardReportForm(request.POST or None, request.FILES or None, initial={"found_on": clock.today()})
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            hazard = services.report_hazard(
                care_home=home, by=request.user, description=d["description"], category=d["category"],
                key_place=d["key_place"], severity=d["severity"], criterion=d["criterion"], found_on=d["found_on"],
                due_on=d["due_on"], responsible_person=d["responsible_person"],
                location=Point(d["lon"], d["lat"], srid=4326) if d["lon"] is not None else None,
                photos=[d["photo"]] if d["photo"] else (),
                uuid=submission_uuid(request.user, request.POST.get("submission", "")[:64]),
            )  # fmt: skip
        except services.HazardError as exc:
            form.add_error(None, exc.message)
        else:
            replayed = getattr(hazard, "replayed", False)
            messages.success(request, "这条隐患已经上报过（重复提交未再保存）" if replayed else "隐患已上报")
            return redirect("hazard-detail", pk=hazard.pk)
    # One token per form shown (kept when the form comes back with errors): a second post of it is a repeat.
    submission = request.POST.get("submission", "")[:64] or new_form_token()
    return render(request, "hazards/new.html", {"form": form, "home": home, "submission": submission})


@login_required
@require_POST
def hazard_list_for_supervision(request, pk: int):
    hazard = get_object_or_404(visible_hazards(request.user), pk=pk)
    form = ListingForm(request.POST)
    if not form.is_valid():
        messages.error(request, "请填写督办部门和督办期限")
    else:
        try:
            services.list_for_supervision(hazard, by=request.user, department=form.cleaned_data["department"],
                                          deadline=form.cleaned_data["deadline"])  # fmt: skip
            messages.success(request, "已挂牌督办")
        except services.HazardError as exc:
            messages.error(request, exc.message)
    return redirect("hazard-detail", pk=pk)


def _on_listing(request, pk: int, act, done: str):
    """Runs one supervision step on a listing the user can see; the refusal, if any, is shown on the hazard page."""
    listing = get_object_or_404(SupervisionListing, hazard__in=visible_hazards(request.user), pk=pk)
    try:
        act(listing)
        messages.success(request, done)
    except services.HazardError as exc:
        messages.error(request, exc.message)
    return redirect("hazard-detail", pk=listing.hazard_id)


@login_required
@require_POST
def supervision_entry(request, pk: int):
    note = request.POST.get("note", "")
    return _on_listing(
        request, pk, lambda li: services.add_supervision_entry(li, by=request.user, note=note), "已添加督办跟踪记录"
    )


@login_required
@require_POST
def supervision_delist(request, pk: int):
    comment = request.POST.get("comment", "")
    return _on_listing(request, pk, lambda li: services.delist(li, by=request.user, comment=comment), "已摘牌")


@login_required
def supervision_list(request):
    """Both lists paged (50 a page): at a province's scale there are thousands of open major hazards. Under supervision
    first (by deadline), then delisted; waiting to be listed, the longest waiting first."""
    listings = (
        SupervisionListing.objects.filter(hazard__in=visible_hazards(request.user))
        .select_related("hazard__care_home")
        .order_by(F("delisted_on").desc(nulls_first=True), "deadline", "pk")
    )
    pending = (  # NOT EXISTS: an anti-join the planner estimates, so page 1 walks the index in order (123 → 2 ms)
        visible_hazards(request.user)
        .major()
        .open()
        .filter(~Exists(SupervisionListing.objects.filter(hazard=OuterRef("pk"))))
        .select_related("care_home")
        .order_by("found_on", "pk")
    )
    return render(
        request,
        "hazards/supervision.html",
        {
            "listings": Paginator(listings, 50).get_page(request.GET.get("page")),
            "pending": Paginator(pending, 50).get_page(request.GET.get("pending_page")),
        },
    )


@login_required
@require_POST
def ledger_export(request):
    scope = request.POST.get("scope", "district")
    from .exports import Scope

    try:
        parsed = Scope.parse(scope, request.user)
    except ValueError as exc:
        messages.error(request, str(exc))
        return redirect("hazard-list")
    job = enqueue(kind="hazards.export_ledger", title=f"导出三项清单：{parsed.label}", params={"scope": scope},
                  created_by=request.user, max_attempts=2)  # fmt: skip
    return redirect("job-detail", pk=job.pk)


@login_required
def job_download(request, pk: int):
    job = _visible_job(request, pk)
    if job.status != JobStatus.SUCCEEDED or not (job.result or {}).get("file"):
        raise Http404
    name = job.result["file"]
    if ".." in PurePosixPath(name).parts or not media.exists(name):
        raise Http404
    return FileResponse(
        media.open_file(name), as_attachment=True, filename=job.result.get("filename", PurePosixPath(name).name)
    )


def home_hazard_summary(homes) -> dict[int, dict]:
    """{home id: {"open": n, "overdue": n, "major": n}} for map colours and lists."""
    today = clock.today()
    rows = (
        Hazard.objects.open().filter(care_home__in=homes).values("care_home_id")
        .annotate(open=Count("id"), overdue=Count("id", filter=Q(due_on__lt=today)), major=Count("id", filter=Q(severity="major")))
    )  # fmt: skip
    return {r["care_home_id"]: r for r in rows}
