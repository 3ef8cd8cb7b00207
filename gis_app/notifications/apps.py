from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "gis_app.notifications"
    label = "notifications"
    verbose_name = "站内通知"
