from django.apps import AppConfig


class InspectionsConfig(AppConfig):
    name = "gis_app.inspections"
    label = "inspections"
    verbose_name = "检查与检查表"
