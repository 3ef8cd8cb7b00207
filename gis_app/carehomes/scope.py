"""What each role may see. Every page, API, export and admin view starts from these querysets."""

from django.contrib.auth.models import AnonymousUser, User

from .models import CareHome, Profile, Role, Subdistrict


def profile_of(user: User | AnonymousUser) -> Profile | None:
    if not user.is_authenticated:
        return None
    try:
        return user.profile
    except Profile.DoesNotExist:
        return None


def role_of(user: User | AnonymousUser) -> str | None:
    """A superuser acts as the bureau; a user without a profile has no role and sees nothing."""
    profile = profile_of(user)
    if profile is not None:
        return profile.role
    if user.is_authenticated and user.is_superuser:
        return Role.BUREAU
    return None


def visible_carehomes(user) -> "CareHome.objects":
    role = role_of(user)
    homes = CareHome.objects.all()
    if role in (Role.BUREAU, Role.FIRE_RESCUE):
        return homes
    profile = profile_of(user)
    if role == Role.SUBDISTRICT:
        return homes.filter(subdistrict_id=profile.subdistrict_id)
    if role == Role.CARE_HOME:
        return homes.filter(pk=profile.care_home_id)
    if role == Role.THIRD_PARTY:
        return homes.filter(safety_service_id=profile.safety_service_id)
    return homes.none()


def visible_subdistricts(user) -> "Subdistrict.objects":
    role = role_of(user)
    subdistricts = Subdistrict.objects.all()
    if role in (Role.BUREAU, Role.FIRE_RESCUE):
        return subdistricts
    if role == Role.SUBDISTRICT:
        return subdistricts.filter(pk=profile_of(user).subdistrict_id)
    if role in (Role.CARE_HOME, Role.THIRD_PARTY):
        ids = visible_carehomes(user).exclude(subdistrict=None).values("subdistrict_id")
        return subdistricts.filter(pk__in=ids)
    return subdistricts.none()
