from django.apps import AppConfig


class AlarmsConfig(AppConfig):
    name = "gis_app.alarms"
    label = "alarms"
    verbose_name = "消防物联网告警"
