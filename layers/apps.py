from django.apps import AppConfig
from django.db.models.signals import post_migrate


class LayersConfig(AppConfig):
    name = "layers"
    label = "layers"
    verbose_name = "消防安全图层"

    def ready(self) -> None:
        from . import versions

        post_migrate.connect(versions.install, sender=self, dispatch_uid="layers.tile_version_triggers")
