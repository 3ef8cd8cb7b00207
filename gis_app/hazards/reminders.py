"""The daily reminder and escalation run: before the deadline the home is reminded; past it the bureau and the 街镇
office are told. Each notice goes out once per hazard and deadline, so re-running the job sends nothing twice."""

from datetime import date, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.urls import reverse

from gis_app.carehomes.models import Role
from gis_app.lib import clock
from gis_app.notifications.services import notify_many

from .models import Hazard


class _Recipients:
    """Who hears about a home's hazards, looked up once per run: the home's own users, the bureau, the 街镇 office."""

    def __init__(self):
        users = get_user_model().objects.filter(is_active=True).select_related("profile")
        self.homes: dict[int, list] = {}
        self.streets: dict[int, list] = {}
        self.bureau = []
        for u in users.filter(profile__role__in=[Role.CARE_HOME, Role.SUBDISTRICT, Role.BUREAU]):
            if u.profile.role == Role.CARE_HOME and u.profile.care_home_id:
                self.homes.setdefault(u.profile.care_home_id, []).append(u)
            elif u.profile.role == Role.SUBDISTRICT and u.profile.subdistrict_id:
                self.streets.setdefault(u.profile.subdistrict_id, []).append(u)
            elif u.profile.role == Role.BUREAU:
                self.bureau.append(u)

    def home(self, hazard) -> list:
        return self.homes.get(hazard.care_home_id, [])

    def supervisors(self, hazard) -> list:
        return self.bureau + self.streets.get(hazard.care_home.subdistrict_id, [])


def send_reminders(today: date | None = None) -> dict[str, int]:
    """Set-based: the recipients are looked up once, the hazards streamed, the notices written in bulk (a run over a
    million hazards stays in bounded memory and makes a few queries per thousand notices)."""
    today = today or clock.today()
    soon = today + timedelta(days=settings.HAZARD_REMINDER_DAYS)
    who = _Recipients()

    def reminders():
        due_soon = Hazard.objects.open().filter(due_on__gte=today, due_on__lte=soon).select_related("care_home")
        for h in due_soon.iterator(2000):
            days = (h.due_on - today).days
            title = f"隐患整改即将到期：{h.care_home.name}"
            body = f"{h.description[:60]}；整改期限 {h.due_on:%Y-%m-%d}（还剩 {days} 天），责任人 {h.responsible_person or '未指定'}"
            link, key = reverse("hazard-detail", args=[h.pk]), f"hazard:{h.pk}:due:{h.due_on.isoformat()}"
            for user in who.home(h):
                yield user, key, title, body, link

    def escalations(to_supervisors: bool):
        overdue = Hazard.objects.overdue(today).select_related("care_home")
        for h in overdue.iterator(2000):
            days = (today - h.due_on).days
            body = f"{h.description[:60]}；整改期限 {h.due_on:%Y-%m-%d}，已逾期 {days} 天（{h.get_severity_display()}）"
            link, key = reverse("hazard-detail", args=[h.pk]), f"hazard:{h.pk}:overdue:{h.due_on.isoformat()}"
            if to_supervisors:
                for user in who.supervisors(h):
                    yield user, key, f"隐患逾期未整改：{h.care_home.name}", body, link
            else:
                for user in who.home(h):
                    yield user, key, f"隐患已逾期：{h.care_home.name}", body, link

    counts = {"reminded": notify_many(reminders()), "escalated": notify_many(escalations(True))}
    notify_many(escalations(False))
    return counts
