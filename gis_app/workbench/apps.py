from django.apps import AppConfig


class WorkbenchConfig(AppConfig):
    name = "gis_app.workbench"
    label = "workbench"
    verbose_name = "待我处理"
