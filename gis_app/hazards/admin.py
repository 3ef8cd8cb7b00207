from django.contrib import admin
from leaflet.admin import LeafletGeoAdmin

from gis_app.carehomes.scope import visible_carehomes

from .models import Accident, AccidentResponsibility, DishonestyListEntry, Hazard


class ResponsibilityInline(admin.TabularInline):
    model = AccidentResponsibility
    extra = 1


@admin.register(Accident)
class AccidentAdmin(admin.ModelAdmin):
    """Accidents and the persons mainly or directly responsible (they become dishonesty-list candidates once punished)."""

    list_display = ("care_home", "occurred_on")
    inlines = [ResponsibilityInline]
    autocomplete_fields = ("care_home",)


@admin.register(DishonestyListEntry)
class DishonestyListEntryAdmin(admin.ModelAdmin):
    list_display = ("__str__", "subject", "listed_on", "removal_on", "removed_on")
    readonly_fields = ("decided_by",)


@admin.register(Hazard)
class HazardAdmin(LeafletGeoAdmin):
    """Read-only here: every change goes through the ledger's services, which keep the history."""

    list_display = ("id", "care_home", "severity", "status", "found_on", "due_on")
    list_filter = ("status", "severity", "category")
    search_fields = ("description", "care_home__name")

    def get_queryset(self, request):
        return super().get_queryset(request).filter(care_home__in=visible_carehomes(request.user))

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
