"""The daily reminder and escalation run: before the deadline the home is reminded; past it the bureau and the 街镇
office are told. Each notice goes out once per hazard and deadline, so re-running the job sends nothing twice."""

from datetime import date, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.urls import reverse

from gis_app.carehomes.models import Role
from gis_app.lib import clock
from gis_app.notifications.services import notify

from .models import Hazard


def _home_users(hazard: Hazard):
    return get_user_model().objects.filter(
        is_active=True, profile__role=Role.CARE_HOME, profile__care_home=hazard.care_home_id
    )


def _supervisors(hazard: Hazard):
    User = get_user_model()
    bureau = User.objects.filter(is_active=True, profile__role=Role.BUREAU)
    street = User.objects.filter(
        is_active=True, profile__role=Role.SUBDISTRICT, profile__subdistrict=hazard.care_home.subdistrict_id
    )
    return (bureau | street).distinct()


def send_reminders(today: date | None = None) -> dict[str, int]:
    today = today or clock.today()
    soon = today + timedelta(days=settings.HAZARD_REMINDER_DAYS)
    counts = {"reminded": 0, "escalated": 0}
    due_soon = Hazard.objects.open().filter(due_on__gte=today, due_on__lte=soon).select_related("care_home")
    for h in due_soon:
        days = (h.due_on - today).days
        counts["reminded"] += notify(
            _home_users(h),
            title=f"隐患整改即将到期：{h.care_home.name}",
            body=f"{h.description[:60]}；整改期限 {h.due_on:%Y-%m-%d}（还剩 {days} 天），责任人 {h.responsible_person or '未指定'}",
            link=reverse("hazard-detail", args=[h.pk]),
            key=f"hazard:{h.pk}:due:{h.due_on.isoformat()}",
        )
    overdue = Hazard.objects.overdue(today).select_related("care_home")
    for h in overdue:
        days = (today - h.due_on).days
        body = f"{h.description[:60]}；整改期限 {h.due_on:%Y-%m-%d}，已逾期 {days} 天（{h.get_severity_display()}）"
        link = reverse("hazard-detail", args=[h.pk])
        key = f"hazard:{h.pk}:overdue:{h.due_on.isoformat()}"
        counts["escalated"] += notify(
            _supervisors(h), title=f"隐患逾期未整改：{h.care_home.name}", body=body, link=link, key=key
        )
        notify(_home_users(h), title=f"隐患已逾期：{h.care_home.name}", body=body, link=link, key=key)
    return counts
