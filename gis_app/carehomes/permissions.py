"""Who may act: small can_*(user, obj) -> bool functions, used by views, APIs and the admin alike."""

from .models import CareHome, Role
from .scope import profile_of, role_of, visible_carehomes


def can_view_carehome(user, home: CareHome) -> bool:
    return visible_carehomes(user).filter(pk=home.pk).exists()


def can_edit_carehome(user, home: CareHome) -> bool:
    """The bureau edits every registry entry; a 街镇 office those in its 街镇; a home its own entry."""
    role = role_of(user)
    if role == Role.BUREAU:
        return True
    profile = profile_of(user)
    if role == Role.SUBDISTRICT:
        return home.subdistrict_id is not None and home.subdistrict_id == profile.subdistrict_id
    if role == Role.CARE_HOME:
        return home.pk == profile.care_home_id
    return False


def can_create_carehome(user) -> bool:
    return role_of(user) == Role.BUREAU


def can_import_carehomes(user) -> bool:
    return role_of(user) == Role.BUREAU


def can_manage_subdistricts(user) -> bool:
    return role_of(user) == Role.BUREAU
