from .models import Role
from .scope import profile_of, role_of


def role(request):
    """Template context: the user's role label and the scope it is limited to."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    current = role_of(user)
    profile = profile_of(user)
    scope = ""
    if profile is not None:
        scope = str(profile.subdistrict or profile.care_home or profile.safety_service or "")
    return {
        "user_role": current,
        "user_role_label": Role(current).label if current else "未分配角色",
        "user_scope_label": scope,
        "is_bureau": current == Role.BUREAU,
        "can_plan_routes": current in (Role.BUREAU, Role.FIRE_RESCUE, Role.SUBDISTRICT),  # street offices: view only
    }
