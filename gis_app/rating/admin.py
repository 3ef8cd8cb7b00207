from django.contrib import admin

from .models import DrillRecord, RatingRubric, StarAssessment


@admin.register(RatingRubric)
class RatingRubricAdmin(admin.ModelAdmin):
    """The bureau enters its own rubric here (a new version with a later effective date replaces the default)."""

    list_display = ("title", "version", "effective_on", "is_default")


@admin.register(StarAssessment)
class StarAssessmentAdmin(admin.ModelAdmin):
    list_display = ("care_home", "year", "status", "score", "stars", "valid_until")
    list_filter = ("status", "year")
    readonly_fields = ("platform_facts", "vetoes", "score", "stars")


@admin.register(DrillRecord)
class DrillRecordAdmin(admin.ModelAdmin):
    list_display = ("care_home", "held_on", "kind", "participants")
    list_filter = ("kind",)
