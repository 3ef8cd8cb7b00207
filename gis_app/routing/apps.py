from django.apps import AppConfig


class RoutingConfig(AppConfig):
    name = "gis_app.routing"
    label = "routing"
    verbose_name = "联合检查路线"
