from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.models import User
from leaflet.admin import LeafletGeoAdmin, LeafletGeoAdminMixin

from gis_app.lib.admin import OptimisticLockingAdmin

from .importers.subdistricts import reassign_care_homes
from .models import ApiToken, CareHome, Profile, SafetyServiceProvider, Subdistrict
from .permissions import can_edit_carehome, can_manage_subdistricts
from .scope import role_of, visible_carehomes, visible_subdistricts


class ScopedAdmin(OptimisticLockingAdmin, LeafletGeoAdmin):
    """Admin views see exactly what the same user sees everywhere else (Leaflet widgets, served locally); a change made
    from a stale page is refused (OptimisticLockingAdmin)."""

    def get_queryset(self, request):
        return self.scope(request)


@admin.register(Subdistrict)
class SubdistrictAdmin(ScopedAdmin):
    list_display = (
        "code",
        "name",
        "kind",
        "public_contact",
        "boundary_is_approximate",
        "boundary_source",
        "updated_at",
    )
    list_filter = ("kind", "boundary_is_approximate")
    search_fields = ("code", "name")

    def scope(self, request):
        return visible_subdistricts(request.user)

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if "boundary" in form.changed_data:
            moved = reassign_care_homes()
            self.message_user(request, f"边界已更新，{moved} 家养老机构的所属街镇随之调整")

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and can_manage_subdistricts(request.user)

    def has_add_permission(self, request):
        return super().has_add_permission(request) and can_manage_subdistricts(request.user)

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and can_manage_subdistricts(request.user)


@admin.register(CareHome)
class CareHomeAdmin(ScopedAdmin):
    list_display = ("name", "credit_code", "subdistrict", "beds", "residents", "status", "is_demo")
    list_filter = ("status", "subdistrict", "ownership", "is_demo")
    search_fields = ("name", "credit_code", "address")
    readonly_fields = ("subdistrict", "created_at", "updated_at")
    autocomplete_fields = ("safety_service",)

    def scope(self, request):
        return visible_carehomes(request.user)

    def has_change_permission(self, request, obj=None):
        allowed = super().has_change_permission(request, obj)
        return allowed and (obj is None or can_edit_carehome(request.user, obj))

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and role_of(request.user) == "bureau"


@admin.register(SafetyServiceProvider)
class SafetyServiceProviderAdmin(admin.ModelAdmin):
    list_display = ("name", "contact_person", "phone")
    search_fields = ("name",)


class ProfileInline(LeafletGeoAdminMixin, admin.StackedInline):
    model = Profile
    can_delete = False
    verbose_name_plural = "角色与范围"
    autocomplete_fields = ("care_home", "safety_service")


class ProfileUserAdmin(UserAdmin):
    inlines = [ProfileInline]
    list_display = ("username", "first_name", "role", "is_staff", "is_active")

    @admin.display(description="角色")
    def role(self, user):
        current = role_of(user)
        return dict(Profile._meta.get_field("role").choices).get(current, "—")


admin.site.unregister(User)
admin.site.register(User, ProfileUserAdmin)
admin.site.site_header = "滨海新区养老机构消防安全平台 · 管理后台"
admin.site.site_title = "消防安全平台管理"


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Tokens are issued with `manage.py create_api_token` (the key is shown once); here they are seen and revoked."""

    list_display = ["prefix", "user", "purpose", "name", "created_at", "expires_at", "last_used_at", "revoked_at"]
    list_filter = ["purpose"]
    search_fields = ["user__username", "name", "prefix"]
    readonly_fields = ["user", "purpose", "prefix", "created_at", "expires_at", "last_used_at", "revoked_at"]
    fields = ["user", "purpose", "name", "prefix", "created_at", "expires_at", "last_used_at", "revoked_at"]
    actions = ["revoke_selected"]

    def has_add_permission(self, request):
        return False

    @admin.action(description="吊销所选令牌")
    def revoke_selected(self, request, queryset):
        from django.utils import timezone

        count = queryset.filter(revoked_at=None).update(revoked_at=timezone.now())
        self.message_user(request, f"已吊销 {count} 个令牌")
