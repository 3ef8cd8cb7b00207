from django.contrib import admin
from leaflet.admin import LeafletGeoAdmin

from .models import Place, RoutePlan


@admin.register(Place)
class PlaceAdmin(LeafletGeoAdmin):
    list_display = ["name", "note"]


@admin.register(RoutePlan)
class RoutePlanAdmin(admin.ModelAdmin):
    list_display = ["date", "title", "status", "travel_mode", "created_by"]
    list_filter = ["status", "travel_mode"]
    readonly_fields = ["violations", "job", "planned_at"]
