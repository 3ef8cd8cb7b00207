from django.apps import AppConfig


class LayersConfig(AppConfig):
    name = "layers"
    label = "layers"
    verbose_name = "消防安全图层"
