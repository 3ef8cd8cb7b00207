from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView
from rest_framework.routers import DefaultRouter

from gis_app.carehomes import api as carehomes_api
from gis_app.carehomes import views as carehomes
from gis_app.jobs import views as jobs

from .views import healthz

router = DefaultRouter()
router.register("subdistricts", carehomes_api.SubdistrictViewSet, basename="api-subdistrict")
router.register("carehomes", carehomes_api.CareHomeViewSet, basename="api-carehome")

urlpatterns = [
    path("", carehomes.home, name="home"),
    path("healthz", healthz, name="healthz"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("map/", carehomes.map_view, name="map"),
    path("carehomes/", carehomes.carehome_list, name="carehome-list"),
    path("carehomes/import/", carehomes.carehome_import, name="carehome-import"),
    path("carehomes/import/template.xlsx", carehomes.carehome_import_template, name="carehome-import-template"),
    path("carehomes/<int:pk>/", carehomes.carehome_detail, name="carehome-detail"),
    path("jobs/", jobs.job_list, name="job-list"),
    path("jobs/<int:pk>/", jobs.job_detail, name="job-detail"),
    path("jobs/<int:pk>/status.json", jobs.job_status, name="job-status"),
    path("api/", include(router.urls)),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("admin/", admin.site.urls),
]
