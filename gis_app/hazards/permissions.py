"""Who may do what with a hazard. Verification and close-out belong to the bureau, fire rescue and the contracted
third party only; the home rectifies its own hazards."""

from gis_app.carehomes.models import CareHome, Role
from gis_app.carehomes.scope import profile_of, role_of, visible_carehomes

from .models import Hazard

RECTIFY = "rectify"  # start, plan, submit: the home itself (and the bureau on its behalf)
MANAGE = "manage"  # assign a responsible person and a deadline
VERIFY = "verify"  # verify, send back, close out, fix on the spot, reopen
BUREAU_ONLY = "bureau_only"  # close without a fix, list for supervision, delist


def _is_contracted_third_party(user, home: CareHome) -> bool:
    profile = profile_of(user)
    return role_of(user) == Role.THIRD_PARTY and home.safety_service_id == profile.safety_service_id


def can_view_hazard(user, hazard: Hazard) -> bool:
    return visible_carehomes(user).filter(pk=hazard.care_home_id).exists()


def can_report_hazard(user, home: CareHome) -> bool:
    return role_of(user) is not None and visible_carehomes(user).filter(pk=home.pk).exists()


def has_power(user, home: CareHome, power: str) -> bool:
    role = role_of(user)
    if role is None or not visible_carehomes(user).filter(pk=home.pk).exists():
        return False
    if power == BUREAU_ONLY:
        return role == Role.BUREAU
    if power == VERIFY:
        return role in (Role.BUREAU, Role.FIRE_RESCUE) or _is_contracted_third_party(user, home)
    if power == RECTIFY:
        return role in (Role.BUREAU, Role.CARE_HOME)
    if power == MANAGE:
        return role in (Role.BUREAU, Role.FIRE_RESCUE, Role.SUBDISTRICT, Role.CARE_HOME) or _is_contracted_third_party(
            user, home
        )
    raise ValueError(power)


def can_list_for_supervision(user) -> bool:
    return role_of(user) == Role.BUREAU


def can_track_supervision(user, hazard: Hazard) -> bool:
    return role_of(user) in (Role.BUREAU, Role.SUBDISTRICT) and can_view_hazard(user, hazard)
