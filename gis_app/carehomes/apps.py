from django.apps import AppConfig


class CareHomesConfig(AppConfig):
    name = "gis_app.carehomes"
    label = "carehomes"
    verbose_name = "养老机构与街镇"
