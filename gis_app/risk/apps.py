from django.apps import AppConfig


class RiskConfig(AppConfig):
    name = "gis_app.risk"
    label = "risk"
    verbose_name = "风险评估"
