from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView
from rest_framework.routers import DefaultRouter

from field_forms import views as field_forms
from gis_app.alarms import views as alarms
from gis_app.carehomes import api as carehomes_api
from gis_app.carehomes import views as carehomes
from gis_app.hazards import api as hazards_api
from gis_app.hazards import dishonesty_views
from gis_app.hazards import views as hazards
from gis_app.inspections import api as inspections_api
from gis_app.inspections import views as inspections
from gis_app.jobs import views as jobs
from gis_app.notifications import views as notifications
from gis_app.ops import views as ops_views
from gis_app.public import views as public
from gis_app.rating import views as rating
from gis_app.risk import views as risk
from gis_app.routing import views as routing
from gis_app.workbench import views as workbench
from layers import api as layers_api
from layers import downloads as layers_downloads
from layers import ogc
from layers import tiles as layers_tiles
from layers import views as layers_views

from .views import basemap_tile, healthz, protected_media

handler404 = "gis_app.views.not_found"

router = DefaultRouter()
router.register("subdistricts", carehomes_api.SubdistrictViewSet, basename="api-subdistrict")
router.register("carehomes", carehomes_api.CareHomeViewSet, basename="api-carehome")
router.register("hazards", hazards_api.HazardViewSet, basename="api-hazard")

urlpatterns = [
    path("media/<path:path>", protected_media, name="media"),
    path("", carehomes.home, name="home"),
    path("healthz", healthz, name="healthz"),
    path("basemap/<int:z>/<int:x>/<int:y>", basemap_tile, name="basemap-tile"),
    path("work/", workbench.my_work, name="my-work"),
    path("public/", public.disclosure, name="public"),
    path("public/homes.geojson", public.homes_geojson, name="public-homes"),
    path("dishonesty/", dishonesty_views.dishonesty_list, name="dishonesty-list"),
    path("dishonesty/<int:pk>/notice/", dishonesty_views.notice, name="dishonesty-notice"),
    path("dishonesty/<int:pk>/notice.xlsx", dishonesty_views.notice_xlsx, name="dishonesty-notice-xlsx"),
    path("dishonesty/<int:pk>/remove/", dishonesty_views.remove, name="dishonesty-remove"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("map/", carehomes.map_view, name="map"),
    path("subdistricts/boundaries.geojson", carehomes.subdistrict_boundaries, name="subdistrict-boundaries"),
    path("carehomes/", carehomes.carehome_list, name="carehome-list"),
    path("carehomes/import/", carehomes.carehome_import, name="carehome-import"),
    path("carehomes/import/template.xlsx", carehomes.carehome_import_template, name="carehome-import-template"),
    path("carehomes/<int:pk>/", carehomes.carehome_detail, name="carehome-detail"),
    path("carehomes/unlocated/", carehomes.carehome_unlocated, name="carehome-unlocated"),
    path("carehomes/<int:pk>/locate/", carehomes.carehome_locate, name="carehome-locate"),
    path("carehomes/<int:home_pk>/hazards/new/", hazards.hazard_new, name="hazard-new"),
    path("carehomes/<int:home_pk>/inspections/new/", inspections.inspection_new, name="inspection-new"),
    path("carehomes/<int:pk>/rating/", rating.home_rating, name="home-rating"),
    path("carehomes/<int:pk>/drills/", rating.home_drills, name="home-drills"),
    path("annual/", rating.annual, name="annual"),
    path("hazards/", hazards.hazard_list, name="hazard-list"),
    path("hazards/export/", hazards.ledger_export, name="ledger-export"),
    path("hazards/supervision/", hazards.supervision_list, name="supervision-list"),
    path("hazards/<int:pk>/", hazards.hazard_detail, name="hazard-detail"),
    path("hazards/<int:pk>/notice/", hazards.hazard_notice, name="hazard-notice"),
    path("hazards/<int:pk>/do/<str:action>/", hazards.hazard_action, name="hazard-action"),
    path("hazards/<int:pk>/list/", hazards.hazard_list_for_supervision, name="hazard-list-supervision"),
    path("supervision/<int:pk>/entry/", hazards.supervision_entry, name="supervision-entry"),
    path("supervision/<int:pk>/delist/", hazards.supervision_delist, name="supervision-delist"),
    path("inspections/missed/", inspections.missed_checks, name="missed-checks"),
    path("inspections/<int:pk>/", inspections.inspection_detail, name="inspection-detail"),
    path("risk/", risk.risk_dashboard, name="risk-dashboard"),
    path("risk/map/", risk.risk_map, name="risk-map"),
    path("risk/heatmap/", risk.heatmap, name="risk-heatmap"),
    path("risk/heatmap/data.json", risk.heat_data, name="risk-heat-data"),
    path("risk/heatmap/hex.geojson", risk.hex_data, name="risk-hex-data"),
    path("risk/method/", risk.method, name="risk-method"),
    path("field/", field_forms.field_home, name="field-home"),
    path("field/generate/", field_forms.field_generate, name="field-generate"),
    path("field/<int:pk>/pull/", field_forms.field_pull, name="field-pull"),
    path("field/upload/", field_forms.field_upload, name="field-upload"),
    path("field/conflicts/<int:pk>/", field_forms.conflict_resolve, name="field-conflict"),
    path("routes/", routing.plan_list, name="route-list"),
    path("routes/<int:pk>/", routing.plan_detail, name="route-detail"),
    path("routes/<int:pk>/itinerary.xlsx", routing.itinerary_xlsx, name="route-itinerary-xlsx"),
    path("routes/<int:pk>/replan/", routing.replan, name="route-replan"),
    path("routes/<int:pk>/stops/add/", routing.stop_add, name="route-stop-add"),
    path("routes/<int:pk>/stops/<int:stop_pk>/", routing.stop_edit, name="route-stop-edit"),
    path("risk/subdistricts/<str:code>/", risk.subdistrict_detail, name="risk-subdistrict"),
    path("api/risk/subdistricts/", risk.SubdistrictsAPI.as_view(), name="api-risk-subdistricts"),
    path("notifications/", notifications.notification_list, name="notification-list"),
    path("notifications/<int:pk>/open/", notifications.notification_open, name="notification-open"),
    path("jobs/", jobs.job_list, name="job-list"),
    path("jobs/<int:pk>/download/", hazards.job_download, name="job-download"),
    path("jobs/<int:pk>/", jobs.job_detail, name="job-detail"),
    path("jobs/<int:pk>/status.json", jobs.job_status, name="job-status"),
    path("api/alarms/webhook/<slug:vendor>/", alarms.webhook, name="alarm-webhook"),
    path("alarms/", alarms.alarm_list, name="alarm-list"),
    path("alarms/feed.json", alarms.feed, name="alarm-feed"),
    path("alarms/<int:pk>/<str:action>/", alarms.act, name="alarm-act"),
    path("api/inspections/", inspections_api.InspectionCreateView.as_view(), name="api-inspection-create"),
    path("api/layers/", layers_api.CatalogueView.as_view(), name="api-layers"),
    path("api/layers/<str:layer>/", layers_api.FeatureListView.as_view(), name="api-layer-features"),
    path("api/layers/<str:layer>/<str:ident>/", layers_api.FeatureDetailView.as_view(), name="api-layer-feature"),
    path("ogc/", ogc.Landing.as_view(), name="ogc-landing"),
    path("ogc", ogc.Landing.as_view(schema=None)),  # QGIS 3.22 asks for /ogc, follows no redirect; /ogc/ is documented
    path("ogc/conformance", ogc.Conformance.as_view(), name="ogc-conformance"),
    path("ogc/collections", ogc.Collections.as_view(), name="ogc-collections"),
    path("ogc/collections/<str:collection>", ogc.Collection.as_view(), name="ogc-collection"),
    path("ogc/collections/<str:collection>/items", ogc.Items.as_view(), name="ogc-items"),
    path("ogc/collections/<str:collection>/queryables", ogc.Queryables.as_view(), name="ogc-queryables"),
    path("ogc/collections/<str:collection>/items/<str:fid>", ogc.Item.as_view(), name="ogc-item"),
    path("tiles/<str:layer>/<int:z>/<int:x>/<int:y>.pbf", layers_tiles.TileView.as_view(), name="tile"),
    path("tiles/<str:layer>.json", layers_tiles.TileJSONView.as_view(), name="tilejson"),
    path("layers/<str:layer>/download.<str:fmt>", layers_downloads.LayerDownload.as_view(), name="layer-download"),
    path(
        "carehomes/<int:pk>/layers.<str:fmt>",
        layers_downloads.CareHomeDownload.as_view(),
        name="carehome-layers-download",
    ),
    path("layers/legend/", layers_views.legend, name="layers-legend"),
    path("layers/desktop/", layers_views.desktop, name="layers-desktop"),
    path("layers/desktop.qgs", layers_views.desktop_project, name="layers-desktop-project"),
    path("api/", include(router.urls)),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("audit/", ops_views.audit, name="audit"),
    path("admin/", admin.site.urls),
]
