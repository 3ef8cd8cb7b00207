import json

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from gis_app.carehomes.models import Role
from gis_app.carehomes.scope import role_of, visible_carehomes
from gis_app.lib.maps import base_map, render_parts

from . import services
from .models import AlarmEvent, Vendor


@csrf_exempt
@require_POST
def webhook(request, vendor: str):
    """POST /api/alarms/webhook/<vendor>/: one event or {"events": [...]}, signed with the vendor's secret."""
    vendor_obj = Vendor.objects.filter(slug=vendor, active=True).first()
    if vendor_obj is None:
        return JsonResponse({"errors": {"vendor": f"unknown vendor {vendor!r}"}}, status=404)
    length = int(request.headers.get("Content-Length") or 0)
    if length > settings.ALARM_MAX_BODY_BYTES:
        return JsonResponse({"errors": {"body": f"larger than {settings.ALARM_MAX_BODY_BYTES} bytes"}}, status=413)
    body = request.body
    if len(body) > settings.ALARM_MAX_BODY_BYTES:
        return JsonResponse({"errors": {"body": f"larger than {settings.ALARM_MAX_BODY_BYTES} bytes"}}, status=413)
    media_type = request.content_type or ""
    if media_type != "application/json" and not media_type.endswith("+json"):
        shown = media_type or "none"
        return JsonResponse({"errors": {"Content-Type": f"expected application/json, got {shown[:80]}"}}, status=415)
    try:
        services.verify_signature(vendor_obj, request.headers.get("X-Alarm-Timestamp"), request.headers.get("X-Alarm-Signature"),
                                  body, settings.ALARM_SIGNATURE_WINDOW_SECONDS)  # fmt: skip
        try:
            data = json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            where = f"line {exc.lineno} column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else "UTF-8"
            raise services.IngestError(400, {"body": f"not valid JSON ({where})"}) from None
        events = data.get("events") if isinstance(data, dict) and "events" in data else [data]
        result = services.ingest(vendor_obj, events)
    except services.IngestError as exc:
        return JsonResponse({"errors": exc.errors}, status=exc.status)
    return JsonResponse({"accepted": result.accepted, "duplicates": result.duplicates})


def visible_events(user):
    return AlarmEvent.objects.filter(care_home__in=visible_carehomes(user)).select_related("device", "care_home")


def as_row(e: AlarmEvent) -> dict:
    loc = e.device.location or e.care_home.location
    return {"id": e.pk, "kind": e.kind, "kind_label": e.get_kind_display(), "home": e.care_home.name, "home_id": e.care_home_id,
            "device": str(e.device), "occurred_at": e.occurred_at.isoformat(), "status": e.get_status_display(),
            "lat": loc.y, "lon": loc.x}  # fmt: skip


@login_required
def alarm_list(request):
    events = visible_events(request.user)[:100]
    m = base_map()
    return render(
        request,
        "alarms/list.html",
        {
            **render_parts(m),
            "events": events,
            "last_id": events[0].pk if events else 0,
            "initial": [as_row(e) for e in events],
        },
    )


@login_required
def feed(request):
    try:
        after = int(request.GET.get("after", 0))
    except ValueError:
        return JsonResponse({"detail": "after must be an integer"}, status=400)
    events = visible_events(request.user).filter(pk__gt=after).order_by("pk")[:200]
    return JsonResponse({"events": [as_row(e) for e in events]})


@login_required
@require_POST
def act(request, pk: int, action: str):
    event = get_object_or_404(visible_events(request.user), pk=pk)
    if role_of(request.user) not in (Role.BUREAU, Role.FIRE_RESCUE, Role.CARE_HOME, Role.THIRD_PARTY, Role.SUBDISTRICT):
        raise Http404
    try:
        if action == "ack":
            services.acknowledge(event, by=request.user)
        elif action == "handle":
            services.handle(
                event,
                by=request.user,
                note=request.POST.get("note", ""),
                false_alarm=request.POST.get("false_alarm") == "on",
            )
        else:
            raise Http404
        messages.success(request, "已记录")
    except services.IngestError as exc:
        messages.error(request, "；".join(exc.errors.values()))
    return redirect("alarm-list")
