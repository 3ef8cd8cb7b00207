"""公示 (no login): what the public must see — each operating home's 两公开 and 一承诺, its star rating, and the current
dishonesty list — and nothing else (phones masked, no hazard details)."""

import json

from django.contrib.gis.db.models.functions import AsGeoJSON
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.gzip import gzip_page

from gis_app.carehomes.maps import with_context
from gis_app.carehomes.models import CareHome, Subdistrict
from gis_app.hazards.models import DishonestyListEntry
from gis_app.lib import clock
from gis_app.lib.maps import PropertyTooltip, RemoteGeoJson, base_map, render_parts
from gis_app.rating.models import StarAssessment


def mask_phone(phone: str) -> str:
    digits = "".join(ch for ch in phone if ch.isdigit())
    if len(digits) < 7:
        return "—" if not digits else "*" * len(digits)
    return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]


PUBLIC_FIELDS = ("id", "name", "address", "subdistrict__name", "subdistrict__code", "subdistrict__public_contact",
                 "fire_safety_owner", "fire_safety_owner_phone",
                 "fire_safety_manager", "fire_safety_manager_phone", "commitment_on", "location")  # fmt: skip


def _homes(request):
    homes = (
        CareHome.objects.operating()
        .select_related("subdistrict")
        .only(*PUBLIC_FIELDS)
        .order_by("subdistrict__code", "name")
    )
    code = request.GET.get("subdistrict", "")
    if code:
        homes = homes.filter(subdistrict__code=code)
    q = request.GET.get("q", "").strip()
    if q:
        homes = homes.filter(name__icontains=q)
    return homes, code, q


MAP_HOMES = 5000


def disclosure(request):
    homes, code, q = _homes(request)
    page = Paginator(homes, 50).get_page(request.GET.get("page"))
    ratings = {
        a.care_home_id: ("不予评定" if a.stars is None else "★" * a.stars)
        for a in StarAssessment.objects.filter(care_home__in=[h.pk for h in page], status="reviewed", valid_until__gte=clock.today())
        .order_by("reviewed_at")
    }  # fmt: skip
    rows = [
        {"home": h, "owner_phone": mask_phone(h.fire_safety_owner_phone), "manager_phone": mask_phone(h.fire_safety_manager_phone),
         "rating": ratings.get(h.pk, "暂未评定")}
        for h in page
    ]  # fmt: skip
    m = with_context(base_map(), Subdistrict.objects.all(), homes)  # framed on the homes found
    # The homes found, as one layer the browser fetches (a province's thousands stay out of the page).
    query = request.GET.copy()
    query.pop("page", None)
    layer = RemoteGeoJson(
        f"{reverse('public-homes')}?{query.urlencode()}",
        name="养老机构",
        style={"color": "#fff", "weight": 1, "fillColor": "#1565c0", "fillOpacity": 0.9},
        point={"radius": 6, "className": "public-marker"},
    )
    PropertyTooltip(["name"]).add_to(layer)
    layer.add_to(m)
    return render(request, "public/disclosure.html", {
        **render_parts(m), "rows": rows, "page": page, "subdistricts": Subdistrict.objects.order_by("code").only("code", "name"),
        "code": code, "q": q, "query": query.urlencode(), "total": homes.count(),
        "entries": DishonestyListEntry.objects.current().select_related("care_home")[:200],
    })  # fmt: skip


@gzip_page
def homes_geojson(request):
    """The located homes the public list finds (same filters): name and point only, at most MAP_HOMES. The points
    come as GeoJSON text from PostGIS (no geometry parsed in Python: 5,000 of them cost ~0.2 s that way)."""
    homes, _code, _q = _homes(request)
    rows = homes.exclude(location=None).annotate(point=AsGeoJSON("location", precision=6))
    features = ",".join(
        f'{{"type":"Feature","geometry":{point},"properties":{json.dumps({"name": name}, ensure_ascii=False)}}}'
        for name, point in rows.values_list("name", "point")[:MAP_HOMES]
    )
    response = HttpResponse(
        f'{{"type":"FeatureCollection","features":[{features}]}}', content_type="application/geo+json"
    )
    response["Cache-Control"] = "public, max-age=300"
    return response
