"""The daily reminder and escalation run: before the deadline the home is reminded; past it the bureau and the 街镇
office are told. Each notice goes out once per hazard and deadline, so re-running the job sends nothing twice.

Set-based: each kind of notice is one INSERT … SELECT over the hazards and their recipients, ON CONFLICT (user, key) DO
NOTHING, so a province's first run (~600,000 overdue hazards, a notice each for the bureau) writes in PostgreSQL in
bounded memory instead of streaming every hazard through Python (~1,000 notices a second)."""

from datetime import date, timedelta

from django.conf import settings
from django.db import connection
from django.urls import reverse

from gis_app.carehomes.models import Role
from gis_app.lib import clock
from gis_app.notifications.services import email_new

from .models import Hazard, Severity

# (user_id, hazard id) of who hears about a hazard: the home's own users, or the bureau and the home's 街镇 office
_ACTIVE = "JOIN auth_user u ON u.id = p.user_id AND u.is_active"
_HOME_USERS = f"""
    SELECT p.user_id, h.id AS hazard_id FROM h JOIN carehomes_profile p ON p.care_home_id = h.home_id
    AND p.role = '{Role.CARE_HOME}' {_ACTIVE}
"""
_SUPERVISORS = f"""
    SELECT p.user_id, h.id AS hazard_id FROM h JOIN carehomes_profile p ON p.role = '{Role.BUREAU}' {_ACTIVE}
    UNION ALL
    SELECT p.user_id, h.id FROM h JOIN carehomes_profile p ON p.role = '{Role.SUBDISTRICT}'
    AND p.subdistrict_id = h.subdistrict_id {_ACTIVE}
"""
_DUE = "to_char(h.due_on, 'YYYY-MM-DD')"
_SEVERITY = (
    "CASE h.severity "
    + " ".join(f"WHEN '{v}' THEN '{str(label).replace(chr(39), chr(39) * 2)}'" for v, label in Severity.choices)
    + " END"
)


def _notify(hazards, recipients: str, title: str, body: str, kind: str, today: date) -> int:
    """One notice per recipient and hazard of `hazards` (a queryset), keyed hazard:<id>:<kind>:<deadline>; the new
    ones are counted (and e-mailed when configured)."""
    hazard_sql, hazard_args = hazards.values("pk").query.sql_with_params()
    marker = 999_999_999
    link_before, link_after = reverse("hazard-detail", args=[marker]).split(str(marker))
    with connection.cursor() as cur:
        cur.execute(
            f"""
            WITH h AS (
                SELECT z.id, z.description, z.due_on, z.severity, z.responsible_person, c.id AS home_id,
                       c.name AS home, c.subdistrict_id, %s::date AS today
                FROM hazards_hazard z JOIN carehomes_carehome c ON c.id = z.care_home_id
                WHERE z.id IN ({hazard_sql})
            ),
            r AS ({recipients}),
            ins AS (
                INSERT INTO notifications_notification (user_id, title, body, link, dedupe_key, created_at, emailed)
                SELECT r.user_id, {title}, {body}, %s || h.id || %s, 'hazard:' || h.id || ':{kind}:' || {_DUE},
                       now(), false
                FROM r JOIN h ON h.id = r.hazard_id
                ON CONFLICT (user_id, dedupe_key) DO NOTHING
                RETURNING id, user_id
            )
            SELECT count(*), coalesce(array_agg(ins.id) FILTER (WHERE %s AND u.email <> ''), '{{}}')
            FROM ins JOIN auth_user u ON u.id = ins.user_id
            """,
            [today, *hazard_args, link_before, link_after, settings.EMAIL_NOTIFICATIONS],
        )
        created, to_email = cur.fetchone()
    email_new(to_email)
    return created


def send_reminders(today: date | None = None) -> dict[str, int]:
    today = today or clock.today()
    soon = today + timedelta(days=settings.HAZARD_REMINDER_DAYS)
    due_soon = Hazard.objects.open().filter(due_on__gte=today, due_on__lte=soon)
    overdue = Hazard.objects.overdue(today)
    left = "left(h.description, 60) || '；整改期限 ' || " + _DUE
    reminded = _notify(
        due_soon,
        _HOME_USERS,
        "'隐患整改即将到期：' || h.home",
        f"{left} || '（还剩 ' || (h.due_on - h.today) || ' 天），责任人 ' || coalesce(nullif(h.responsible_person, ''), '未指定')",
        "due",
        today,
    )
    late = f"{left} || '，已逾期 ' || (h.today - h.due_on) || ' 天（' || {_SEVERITY} || '）'"
    escalated = _notify(overdue, _SUPERVISORS, "'隐患逾期未整改：' || h.home", late, "overdue", today)
    _notify(overdue, _HOME_USERS, "'隐患已逾期：' || h.home", late, "overdue", today)
    return {"reminded": reminded, "escalated": escalated}
