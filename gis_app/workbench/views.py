"""待我处理: where each role lands after signing in, with what waits for them, in their scope. A composition page: it
reads the registry, the ledger, the check schedule and the notifications; it owns no table."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from gis_app.carehomes.models import Role
from gis_app.carehomes.scope import profile_of, role_of, visible_carehomes, visible_subdistricts
from gis_app.hazards.models import Hazard, Status, SupervisionListing
from gis_app.inspections.schedule import schedule_status
from gis_app.lib import clock

LIMIT = 20
HOME_ACTS_ON = (Status.REPORTED, Status.ASSIGNED, Status.RECTIFYING, Status.REOPENED)


def _hazards(homes):
    return Hazard.objects.filter(care_home__in=homes).select_related("care_home").order_by("due_on", "id")


@login_required
def my_work(request):
    user, today = request.user, clock.today()
    role = role_of(user)
    homes = visible_carehomes(user)
    context = {"role": role, "today": today, "notifications": user.notifications.filter(read_at=None)[:10]}
    home = profile_of(user).care_home if role == Role.CARE_HOME else None
    if home is not None:
        statuses = schedule_status(homes.filter(pk=home.pk), today, today).get(home.pk, [])
        hazards = _hazards(homes)
        context.update(
            home=home,
            checks=[s for s in statuses if not s.current_done],
            checks_done=[s for s in statuses if s.current_done],
            to_fix=hazards.filter(status__in=HOME_ACTS_ON)[:LIMIT],
            to_fix_count=hazards.filter(status__in=HOME_ACTS_ON).count(),
            waiting=hazards.filter(status__in=(Status.SUBMITTED, Status.VERIFIED))[:LIMIT],
        )
    elif role is not None:
        hazards = _hazards(homes)
        verifier = role in (Role.BUREAU, Role.FIRE_RESCUE, Role.THIRD_PARTY)
        if verifier:  # these roles verify every home they see (a third party sees the homes it serves)
            context.update(
                to_verify=hazards.filter(status=Status.SUBMITTED)[:LIMIT],
                to_verify_count=hazards.filter(status=Status.SUBMITTED).count(),
                to_close=hazards.filter(status=Status.VERIFIED)[:LIMIT],
            )
        overdue = hazards.overdue(today)
        context.update(
            overdue=overdue.order_by("due_on", "id")[:LIMIT],
            overdue_count=overdue.count(),
            listed=SupervisionListing.objects.filter(hazard__care_home__in=homes, delisted_on=None)
            .select_related("hazard__care_home")
            .order_by("deadline")[:LIMIT],
            subdistricts=list(visible_subdistricts(user)[:2]) if role == Role.SUBDISTRICT else [],
        )
    return render(request, "workbench/my_work.html", context)
