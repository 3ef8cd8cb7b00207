from django.apps import AppConfig


class JobsConfig(AppConfig):
    name = "gis_app.jobs"
    label = "jobs"
    verbose_name = "后台任务"
