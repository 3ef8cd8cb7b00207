from django.apps import AppConfig


class FieldFormsConfig(AppConfig):
    name = "field_forms"
    verbose_name = "外业采集（QField）"
