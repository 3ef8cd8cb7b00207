from django.apps import AppConfig


class CareHomesConfig(AppConfig):
    name = "gis_app.carehomes"
    label = "carehomes"
    verbose_name = "养老机构与街镇"

    def ready(self) -> None:
        from gis_app.lib import checks  # noqa: F401 - registers the platform's deployment checks
