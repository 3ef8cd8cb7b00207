"""The platform's URLs plus one that fails on purpose, so tests can see what a visitor sees when a page raises."""

from django.urls import path

from gis_app.urls import handler404  # noqa: F401 - the root URLconf names it
from gis_app.urls import urlpatterns as platform


def fail(request):
    raise RuntimeError("a deliberate failure for the error-page test")


urlpatterns = [*platform, path("__test__/raise/", fail)]
