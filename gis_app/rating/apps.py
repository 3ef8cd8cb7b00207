from django.apps import AppConfig


class RatingConfig(AppConfig):
    name = "gis_app.rating"
    label = "rating"
    verbose_name = "星级评定与培训演练"
