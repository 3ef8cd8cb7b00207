"""In-app notifications, plus e-mail when the user has an address and EMAIL_BACKEND is configured."""

import logging

from django.conf import settings
from django.core.mail import send_mail
from django.db import connection

from gis_app.jobs.services import enqueue

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
    """Notifies each of `users` (a queryset) once per `key` (a step noticed again sends nothing twice), in the caller's
    transaction: the notices commit or roll back with what they announce. E-mails (when configured, to users with an
    address) are sent by a job, never while the person who took the step waits. Returns how many notices were new."""
    ids = list(users.values_list("pk", flat=True))
    if not ids:
        return 0
    with connection.cursor() as cur:
        cur.execute(
            """
            WITH ins AS (
                INSERT INTO notifications_notification (user_id, title, body, link, dedupe_key, created_at, emailed)
                SELECT u, %s, %s, %s, %s, now(), false FROM unnest(%s::int[]) AS u
                ON CONFLICT (user_id, dedupe_key) DO NOTHING
                RETURNING id, user_id
            )
            SELECT count(*), coalesce(array_agg(ins.id ORDER BY ins.id) FILTER (WHERE %s AND u.email <> ''), '{}')
            FROM ins JOIN auth_user u ON u.id = ins.user_id
            """,
            [title, body, link, key, ids, settings.EMAIL_NOTIFICATIONS],
        )
        created, to_email = cur.fetchone()
    email_later(to_email, title)
    return created


def email_later(ids: list[int], subject: str) -> None:
    """Queues the e-mails of the notices `ids` (the notifications.email job sends each once), inside the caller's
    transaction where there is one: notices that roll back take their mail with them."""
    if ids:
        enqueue(kind="notifications.email", title=f"通知邮件：{subject}"[:200], params={"ids": ids})
