from urllib.parse import quote

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone

from gis_app.carehomes import tokens
from gis_app.carehomes.models import ApiToken, TokenPurpose
from gis_app.carehomes.scope import role_of, visible_subdistricts
from gis_app.lib.qgis import QgisError

from .catalogue import CATALOGUE
from .collections import COLLECTIONS
from .desktop import build_project, desktop_spec

MAX_GIS_TOKENS = 5  # active GIS tokens per person: one per computer is plenty


@login_required
def legend(request):
    """The catalogue for people: every layer with its fields and value lists (what the map, QField and exports use)."""
    return render(request, "layers/legend.html", {"layers": CATALOGUE})


class GisTokenForm(forms.Form):
    name = forms.CharField(label="用于哪台电脑", max_length=60, help_text="如：科室 QGIS、张工笔记本")
    days = forms.TypedChoiceField(
        label="有效期", coerce=int, initial=180, choices=[(30, "30 天"), (90, "90 天"), (180, "180 天"), (365, "一年")]
    )


def _gis_user(request):
    if role_of(request.user) is None:
        raise PermissionDenied("没有角色的账号看不到任何数据，无需连接桌面 GIS。")


@login_required
def desktop(request):
    """桌面 GIS: a GIS token of one's own (shown once), the QGIS steps, and the project downloads for one's scope."""
    _gis_user(request)
    mine = ApiToken.objects.filter(user=request.user, purpose=TokenPurpose.GIS)
    form, new_key = GisTokenForm(), None
    if request.method == "POST":
        if request.POST.get("action") == "revoke":
            raw = request.POST.get("token", "")
            token = get_object_or_404(mine, pk=int(raw) if raw.isdigit() and len(raw) < 12 else 0)
            tokens.revoke(token)
            messages.success(request, f"令牌 {token.prefix}… 已吊销，使用它的 QGIS 将无法再读取数据。")
            return redirect("layers-desktop")
        form = GisTokenForm(request.POST)
        active = mine.filter(revoked_at=None, expires_at__gt=timezone.now()).count()
        if active >= MAX_GIS_TOKENS:
            form.add_error(None, f"您已有 {active} 个有效的 GIS 令牌（上限 {MAX_GIS_TOKENS} 个）：请先吊销不用的。")
        if form.is_valid():
            token, new_key = tokens.issue(
                request.user, purpose=TokenPurpose.GIS, name=form.cleaned_data["name"], days=form.cleaned_data["days"]
            )
            form = GisTokenForm()
    context = {
        "form": form,
        "new_key": new_key,
        "tokens": mine.order_by("-created_at")[:20],
        "authcfg": settings.QGIS_AUTHCFG_ID,
        "ogc_url": request.build_absolute_uri("/ogc"),
        "subdistricts": visible_subdistricts(request.user).order_by("code"),
        "collections": COLLECTIONS,
    }
    response = render(request, "layers/desktop.html", context)
    if new_key:
        response["Cache-Control"] = "no-store"  # the key is shown this once
    return response


@login_required
def desktop_project(request):
    """The .qgs for the district (what the user may see of it) or one 街镇 in the user's scope."""
    _gis_user(request)
    subdistrict = None
    code = request.GET.get("subdistrict", "")
    if code:
        subdistrict = visible_subdistricts(request.user).filter(code=code[:12]).first()
        if subdistrict is None:
            raise Http404("没有这个街镇，或不在您的范围内")
    spec = desktop_spec(request.build_absolute_uri("/"), request.user, subdistrict)
    try:
        data = build_project(spec)
    except QgisError as exc:
        return render(request, "layers/desktop_error.html", {"error": str(exc)}, status=503)
    name = f"消防平台-{subdistrict.name if subdistrict else '滨海新区'}.qgs"
    response = HttpResponse(data, content_type="application/x-qgis-project")
    response["Content-Disposition"] = f"attachment; filename=\"desktop.qgs\"; filename*=UTF-8''{quote(name)}"
    return response
