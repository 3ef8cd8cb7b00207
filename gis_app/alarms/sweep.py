"""Alarms that feed the ledger: a fault, isolation or power loss with no recovery after ALARM_FAULT_HOURS, and a
device with ALARM_FALSE_ALARMS false fire alarms in 30 days, each become one hazard (reported, for the home to fix)."""

from datetime import timedelta

from django.conf import settings
from django.db.models import Count, Exists, OuterRef

from gis_app.hazards.models import Category
from gis_app.hazards.services import report_hazard
from gis_app.lib import clock

from .models import AlarmEvent, EventKind

LASTING = (EventKind.FAULT, EventKind.ISOLATED, EventKind.POWER_LOSS)


def sweep(now=None) -> dict[str, int]:
    now = now or clock.now()
    made = {"faults": 0, "false_alarms": 0}
    cutoff = now - timedelta(hours=settings.ALARM_FAULT_HOURS)
    recovered = AlarmEvent.objects.filter(
        device=OuterRef("device"), kind=EventKind.RECOVERY, occurred_at__gt=OuterRef("occurred_at")
    )
    lasting = (
        AlarmEvent.objects.filter(kind__in=LASTING, occurred_at__lte=cutoff, hazard=None)
        .annotate(recovered=Exists(recovered)).filter(recovered=False).select_related("device", "care_home")
    )  # fmt: skip
    for event in lasting:
        hours = (now - event.occurred_at).total_seconds() / 3600
        hazard = report_hazard(
            care_home=event.care_home, by=None, check_permission=False, category=Category.EQUIPMENT,
            description=f"物联网设备“{event.device}”{event.get_kind_display()}已持续 {hours:.0f} 小时未恢复",
            location=event.device.location, found_on=clock.today(),
        )  # fmt: skip
        AlarmEvent.objects.filter(
            device=event.device, kind__in=LASTING, hazard=None, occurred_at__lte=event.occurred_at
        ).update(hazard=hazard)
        made["faults"] += 1
    since = now - timedelta(days=30)
    noisy = (
        AlarmEvent.objects.filter(kind=EventKind.FIRE, false_alarm=True, occurred_at__gte=since, hazard=None)
        .values("device").annotate(n=Count("id")).filter(n__gte=settings.ALARM_FALSE_ALARMS)
    )  # fmt: skip
    for row in noisy:
        events = AlarmEvent.objects.filter(device=row["device"], kind=EventKind.FIRE, false_alarm=True, hazard=None)
        first = events.select_related("device", "care_home").first()
        hazard = report_hazard(
            care_home=first.care_home, by=None, check_permission=False, category=Category.EQUIPMENT,
            description=f"物联网设备“{first.device}”30天内误报火警 {row['n']} 次，需检修或更换", location=first.device.location,
            found_on=clock.today(),
        )  # fmt: skip
        events.update(hazard=hazard)
        made["false_alarms"] += 1
    return made
