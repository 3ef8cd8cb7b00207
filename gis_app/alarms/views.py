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
from .models import AlarmEvent
from .webhook import receive


@csrf_exempt
@require_POST
def webhook(request, vendor: str):
    """POST /api/alarms/webhook/<vendor>/: one event or {"events": [...]}, signed with the vendor's secret. Served by
    the WSGI fast path in production (gis_app.alarms.fast); this view answers the same through Django's stack."""
    status, payload = receive(
        vendor,
        headers=request.headers,
        content_type=request.META.get("CONTENT_TYPE", ""),
        content_length=request.headers.get("Content-Length") or "0",
        read_body=lambda limit: request.read(limit),
    )
    return JsonResponse(payload, status=status)


def visible_events(user):
    return AlarmEvent.objects.filter(care_home__in=visible_carehomes(user)).select_related("device", "care_home")


def as_row(e: AlarmEvent) -> dict:
    loc = e.device.location or e.care_home.location
    lat, lon = (loc.y, loc.x) if loc is not None else (None, None)
    return {
        "id": e.pk,
        "kind": e.kind,
        "kind_label": e.get_kind_display(),
        "home": e.care_home.name,
        "home_id": e.care_home_id,
        "device": str(e.device),
        "occurred_at": e.occurred_at.isoformat(),
        "status": e.get_status_display(),
        "lat": lat,
        "lon": lon,
    }


@login_required
def alarm_list(request):
    from gis_app.carehomes.maps import with_context
    from gis_app.carehomes.scope import visible_subdistricts

    events = visible_events(request.user)[:100]
    m = with_context(base_map(), visible_subdistricts(request.user), visible_carehomes(request.user))
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
