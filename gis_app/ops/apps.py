from django.apps import AppConfig


class OpsConfig(AppConfig):
    """Running the platform: backups and restores (no models of its own; it reads every app's tables)."""

    name = "gis_app.ops"
    label = "ops"
    verbose_name = "运维"
