from django.apps import AppConfig


class OpsConfig(AppConfig):
    """Running the platform: backups and restores, and the audit trail."""

    name = "gis_app.ops"
    label = "ops"
    verbose_name = "运维与审计"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from . import (
            audit,  # noqa: F401 - connects the login/logout signals
            context_func,
        )

        post_migrate.connect(context_func.install, sender=self, dispatch_uid="ops.fast_pgh_attach_context")
