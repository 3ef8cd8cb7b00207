"""Who is told at each step of a hazard's way to close-out (in-app, and by e-mail where configured): the verifiers when
the home submits its rectification, the home when its hazard is assigned, sent back, verified or closed out. Each
step's notice goes out once (keyed by the ledger entry), written with the step (they commit or roll back together;
e-mails go by a job); the person who took the step is not told of it."""

from django.contrib.auth import get_user_model
from django.urls import reverse

from gis_app.carehomes.models import Role
from gis_app.notifications.services import notify

from .models import Hazard, HazardEvent


def home_users(hazard: Hazard):
    return get_user_model().objects.filter(
        is_active=True, profile__role=Role.CARE_HOME, profile__care_home=hazard.care_home_id
    )


def verifiers(hazard: Hazard):
    """The bureau and the third party contracted to the home: who verifies a rectification."""
    User = get_user_model()
    bureau = User.objects.filter(is_active=True, profile__role=Role.BUREAU)
    if hazard.care_home.safety_service_id is None:
        return bureau
    contracted = User.objects.filter(
        is_active=True, profile__role=Role.THIRD_PARTY, profile__safety_service=hazard.care_home.safety_service_id
    )
    return (bureau | contracted).distinct()


NOTICES = {
    "submit": (verifiers, "隐患待复查：{home}", "{home} 已提交整改，请复查：{description}"),
    "rectified": (verifiers, "隐患待复查：{home}", "{home} 已整改并提交复查：{description}"),
    "assign": (home_users, "收到交办的隐患：{home}", "请在 {due} 前整改：{description}"),
    "send_back": (home_users, "隐患复查未通过，已退回：{home}", "退回原因：{comment}。隐患：{description}"),
    "verify": (home_users, "隐患复查通过：{home}", "{description}"),
    "close_out": (home_users, "隐患已销号：{home}", "{description}"),
}


def announce(hazard: Hazard, action: str, event: HazardEvent, *, by) -> None:
    if action not in NOTICES:
        return
    recipients, title, body = NOTICES[action]
    values = {
        "home": hazard.care_home.name,
        "description": hazard.description[:120],
        "due": f"{hazard.due_on:%Y-%m-%d}" if hazard.due_on else "期限",
        "comment": event.comment[:200] or "未说明",
    }
    users = recipients(hazard).exclude(pk=getattr(by, "pk", None))
    link = reverse("hazard-detail", args=[hazard.pk])
    key = f"hazard-event:{event.pk}"
    notify(users, title=title.format(**values), body=body.format(**values), link=link, key=key)
