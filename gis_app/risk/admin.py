from django.contrib import admin

from .models import Campaign, CampaignPhase, RiskModel


@admin.register(RiskModel)
class RiskModelAdmin(admin.ModelAdmin):
    list_display = ("title", "version", "created_at")


class PhaseInline(admin.TabularInline):
    model = CampaignPhase
    extra = 0


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    list_display = ("title", "start_on", "end_on")
    inlines = [PhaseInline]
