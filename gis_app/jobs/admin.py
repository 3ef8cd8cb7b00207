from django.contrib import admin

from .models import Job


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = ("id", "title", "kind", "status", "percent", "attempts", "created_by", "created_at", "finished_at")
    list_filter = ("status", "kind")
    readonly_fields = [f.name for f in Job._meta.fields if f.name != "payload"]
    exclude = ("payload",)

    def has_add_permission(self, request):
        return False
