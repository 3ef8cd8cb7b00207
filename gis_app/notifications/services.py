"""In-app notifications, plus e-mail when the user has an address and EMAIL_BACKEND is configured."""

import logging

from django.conf import settings
from django.core.mail import send_mail

from .models import Notification

log = logging.getLogger(__name__)


def notify_many(entries) -> int:
    """Many notices at once, each (user, key) once: `entries` yields (user, key, title, body, link). The ones already
    sent are found in one query per batch and the new ones written in bulk, so a daily run over a province's hazards
    makes a few queries per thousand notices, not a few per notice. Returns how many were new."""
    created = 0
    batch: list[tuple] = []

    def flush() -> int:
        if not batch:
            return 0
        sent = set(
            Notification.objects.filter(
                user__in={u.pk for u, *_ in batch}, dedupe_key__in={k for _, k, *_ in batch}
            ).values_list("user_id", "dedupe_key")
        )
        fresh, seen = [], set()
        for user, key, title, body, link in batch:
            if (user.pk, key) in sent or (user.pk, key) in seen:
                continue
            seen.add((user.pk, key))
            fresh.append((user, Notification(user=user, dedupe_key=key, title=title, body=body, link=link)))
        Notification.objects.bulk_create([n for _, n in fresh], ignore_conflicts=True)
        if settings.EMAIL_NOTIFICATIONS:
            for user, n in fresh:
                if user.email:
                    _email(user, n)
        batch.clear()
        return len(fresh)

    for entry in entries:
        batch.append(entry)
        if len(batch) >= 2000:
            created += flush()
    return created + flush()


def _email(user, notification) -> None:
    try:
        send_mail(notification.title, f"{notification.body}\n\n{notification.link}", None, [user.email])
        Notification.objects.filter(user=user, dedupe_key=notification.dedupe_key).update(emailed=True)
    except Exception:  # noqa: BLE001 - a mail outage must not lose the in-app notification
        log.exception("could not e-mail notification %s", notification.dedupe_key)


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
