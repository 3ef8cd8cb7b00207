from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.gzip import gzip_page
from django.views.decorators.http import etag

from gis_app.jobs.services import enqueue
from gis_app.lib.excel import xlsx_response
from gis_app.lib.maps import render_parts

from . import geocoder, locating, maps
from .forms import CareHomeFilterForm, CareHomeImportForm
from .importers.carehomes import write_template
from .models import LocationStatus, Role
from .permissions import can_edit_carehome, can_import_carehomes
from .scope import role_of, visible_carehomes, visible_subdistricts


@login_required
def map_view(request):
    from gis_app.hazards.views import home_hazard_summary

    homes = visible_carehomes(request.user)
    subdistricts = visible_subdistricts(request.user)
    home_count = homes.count()
    embed = home_count <= maps.EMBED_LIMIT
    m = maps.overview_map(
        homes=homes, subdistricts=subdistricts, hazards=home_hazard_summary(homes) if embed else None, embed_homes=embed
    )
    return render(
        request,
        "carehomes/map.html",
        {
            **render_parts(m),
            "home_count": home_count,
            "embedded": embed,
            "subdistrict_count": subdistricts.count(),
            "approximate": subdistricts.filter(boundary_is_approximate=True).exists(),
            "legend": maps.LEGEND,
        },
    )


@login_required
def carehome_list(request):
    # The filter's choices: names only (a province's 3,000 boundaries parsed for a <select> cost ~0.1 s a page).
    subdistricts = visible_subdistricts(request.user).only("code", "name")
    form = CareHomeFilterForm(request.GET or None, subdistricts=subdistricts)
    homes = form.filter(visible_carehomes(request.user).select_related("subdistrict"))
    page = Paginator(homes, 30).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "carehomes/list.html",
        {
            "form": form,
            "page": page,
            "total": homes.count(),
            "query": query.urlencode(),
            "to_locate": visible_carehomes(request.user).exclude(location_status=LocationStatus.CONFIRMED).count()
            if role_of(request.user) in (Role.BUREAU, Role.SUBDISTRICT)
            else 0,
        },
    )


@login_required
def carehome_detail(request, pk: int):
    # Another home's id gives 404, not 403: a guess must not even learn that the home exists.
    from gis_app.hazards.models import Hazard, Status
    from gis_app.hazards.permissions import can_report_hazard
    from gis_app.inspections.schedule import schedule_status
    from gis_app.inspections.services import allowed_kinds
    from gis_app.risk.models import RiskScore
    from layers import services as layer_services
    from layers.catalogue import own_layers

    home = get_object_or_404(visible_carehomes(request.user).select_related("subdistrict", "safety_service"), pk=pk)
    hazards = Hazard.objects.filter(care_home=home)
    counts = dict(hazards.order_by().values_list("status").annotate(n=Count("id")))
    return render(
        request,
        "carehomes/detail.html",
        {
            "home": home,
            "can_edit": can_edit_carehome(request.user, home),
            "can_locate": locating.can_locate(request.user, home),
            "can_report": can_report_hazard(request.user, home),
            "can_inspect": bool(allowed_kinds(request.user)),
            "can_edit_layers": any(layer_services.can_edit(request.user, layer, home) for layer in own_layers()),
            "status_counts": [(value, label, counts.get(value, 0)) for value, label in Status.choices],
            "open_count": hazards.open().count(),
            "overdue_count": hazards.overdue().count(),
            "open_hazards": hazards.open().order_by("due_on")[:10],
            "schedule": schedule_status(visible_carehomes(request.user).filter(pk=home.pk)).get(home.pk, []),
            "inspections": home.inspections.select_related("version")[:10],
            "risk": RiskScore.objects.filter(care_home=home).first(),
            **render_parts(maps.site_map(home)),
        },
    )


@login_required
def carehome_import(request):
    if not can_import_carehomes(request.user):
        raise PermissionDenied("只有区民政局可以批量导入养老机构")
    form = CareHomeImportForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        job = enqueue(
            kind="carehomes.import",
            title=f"导入养老机构：{upload.name}",
            params={
                "crs": form.cleaned_data["crs"],
                "skip_bad": form.cleaned_data["skip_bad"],
                "commit": not form.cleaned_data["dry_run"],
                "sheet": form.cleaned_data["sheet"].strip() or None,
                "encoding": form.cleaned_data["encoding"] or None,
            },
            payload=upload.read(),
            payload_name=upload.name,
            created_by=request.user,
            max_attempts=1,
        )
        messages.info(request, "文件已上传，正在后台校验和导入")
        return redirect("job-detail", pk=job.pk)
    return render(request, "carehomes/import.html", {"form": form})


@login_required
def carehome_import_template(request):
    return xlsx_response("养老机构导入模板", write=write_template)


def home(request):
    return redirect("my-work" if request.user.is_authenticated else "login")


@login_required
def carehome_unlocated(request):
    """待定位: homes listed without coordinates, and homes placed by the geocoder awaiting a person's confirmation."""
    if role_of(request.user) not in (Role.BUREAU, Role.SUBDISTRICT):
        raise PermissionDenied("只有区民政局和街镇可以标定养老机构位置")
    homes = visible_carehomes(request.user).exclude(location_status=LocationStatus.CONFIRMED)
    if request.method == "POST" and request.POST.get("action") == "geocode":
        if role_of(request.user) != Role.BUREAU or not geocoder.configured():
            raise PermissionDenied("地理编码仅由区民政局在配置了天地图密钥后使用")
        job = enqueue(
            kind="carehomes.geocode",
            title="地理编码：未定位的养老机构",
            params={},
            created_by=request.user,
            max_attempts=1,
        )
        messages.info(request, "已开始地理编码，结果需逐个确认")
        return redirect("job-detail", pk=job.pk)
    rows = homes.select_related("subdistrict").order_by("location_status", "subdistrict__code", "name")
    return render(
        request,
        "carehomes/unlocated.html",
        {
            "homes": rows[:500],
            "count": rows.count(),
            "unlocated": homes.filter(location_status=LocationStatus.UNLOCATED).count(),
            "can_geocode": role_of(request.user) == Role.BUREAU and geocoder.configured(),
        },
    )


@login_required
def carehome_locate(request, pk: int):
    """Put a home on the map by hand (click or drag, its address shown), or confirm a geocoded position."""
    home = get_object_or_404(visible_carehomes(request.user).select_related("subdistrict"), pk=pk)
    if not locating.can_locate(request.user, home):
        raise PermissionDenied("您无权标定该机构的位置")
    error = None
    if request.method == "POST":
        try:
            if request.POST.get("action") == "confirm":
                locating.confirm(home, by=request.user)
                messages.success(request, f"已确认“{home.name}”的位置")
            else:
                locating.place(home, request.POST.get("lon"), request.POST.get("lat"), by=request.user)
                messages.success(request, f"已标定“{home.name}”的位置")
        except locating.LocateError as exc:
            error = str(exc)
        else:
            return redirect("carehome-unlocated")
    m = maps.locate_map(home, visible_subdistricts(request.user))
    return render(
        request,
        "carehomes/locate.html",
        {"home": home, "error": error, **render_parts(m)},
        status=400 if error else 200,
    )


@gzip_page
@etag(lambda request: maps.boundaries_version())
def subdistrict_boundaries(request):
    """Every 街镇's simplified boundary as GeoJSON (public: /public/ shows them to anyone). The maps ask for it under
    `?v=<version>`: a current version is kept by the browser for a year (a new version is a new address); a stale one
    gets today's file, not to be kept. The ETag answers a revalidation with 304 without reading a polygon."""
    response = HttpResponse(maps.boundaries_file(), content_type="application/geo+json")
    current = request.GET.get("v") == maps.boundaries_version()
    response["Cache-Control"] = "public, max-age=31536000, immutable" if current else "no-cache"
    return response
