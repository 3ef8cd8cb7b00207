from django.apps import AppConfig


class PublicConfig(AppConfig):
    name = "gis_app.public"
    label = "public"
    verbose_name = "社会公示"
