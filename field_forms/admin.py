from django.contrib import admin

from .models import CloudDelta, Conflict, FieldProject


@admin.register(FieldProject)
class FieldProjectAdmin(admin.ModelAdmin):
    list_display = ["scope", "title", "cloud_project_id", "packaged_at", "pushed_at", "pulled_at"]
    readonly_fields = ["cloud_project_id", "packaged_at", "pushed_at", "pulled_at", "cloud_data_updated_at"]


@admin.register(CloudDelta)
class CloudDeltaAdmin(admin.ModelAdmin):
    """QFieldCloud's record of each field edit: who, when, what, and whether the server applied it."""

    list_display = ["delta_id", "project", "status", "created_by", "created_at"]
    list_filter = ["status", "project"]
    search_fields = ["delta_id", "created_by"]
    readonly_fields = [f.name for f in CloudDelta._meta.fields]

    def has_add_permission(self, request):
        return False


@admin.register(Conflict)
class ConflictAdmin(admin.ModelAdmin):
    list_display = ["created_at", "project", "layer", "kind", "status", "message"]
    list_filter = ["status", "kind", "project"]
    readonly_fields = ["web", "field", "resolved_by", "resolved_at"]
