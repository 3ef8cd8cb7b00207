"""In-app notifications, plus e-mail when the user has an address and EMAIL_BACKEND is configured."""

import logging

from django.conf import settings
from django.core.mail import send_mail

from .models import Notification

log = logging.getLogger(__name__)


def email_new(ids) -> int:
    """E-mails the notices `ids` not e-mailed yet (of users with an address), a thousand read at a time; returns how
    many were sent. Run again (a retried job), it sends only what is still unsent."""
    sent = 0
    for i in range(0, len(ids), 1000):
        for n in Notification.objects.filter(pk__in=ids[i : i + 1000], emailed=False).select_related("user"):
            sent += _email(n.user, n)
    return sent


def _email(user, notification) -> bool:
    try:
        send_mail(notification.title, f"{notification.body}\n\n{notification.link}", None, [user.email])
        Notification.objects.filter(user=user, dedupe_key=notification.dedupe_key).update(emailed=True)
        return True
    except Exception:  # noqa: BLE001 - a mail outage must not lose the in-app notification
        log.exception("could not e-mail notification %s", notification.dedupe_key)
        return False


def notify(users, *, title: str, body: str = "", link: str = "", key: str) -> int:
    """Notifies each user once per `key` (re-running a reminder job sends nothing twice). Returns how many were new."""
    created = 0
    for user in users:
        notification, was_created = Notification.objects.get_or_create(
            user=user, dedupe_key=key, defaults={"title": title, "body": body, "link": link}
        )
        if not was_created:
            continue
        created += 1
        if user.email and settings.EMAIL_NOTIFICATIONS:
            try:
                send_mail(title, f"{body}\n\n{link}", None, [user.email])
                Notification.objects.filter(pk=notification.pk).update(emailed=True)
            except Exception:  # noqa: BLE001 - a mail outage must not lose the in-app notification
                log.exception("could not e-mail notification %s", notification.pk)
    return created
