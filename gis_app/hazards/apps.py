from django.apps import AppConfig


class HazardsConfig(AppConfig):
    name = "gis_app.hazards"
    label = "hazards"
    verbose_name = "隐患整改台账"
