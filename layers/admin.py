from django.contrib import admin
from leaflet.admin import LeafletGeoAdmin

from gis_app.carehomes.scope import visible_carehomes

from .catalogue import own_layers


def _admin_for(layer):
    class FeatureAdmin(LeafletGeoAdmin):
        """Shown with a map; changed through the site plan or the API, where the catalogue's validation runs."""

        list_display = (
            "uuid",
            "care_home",
            *[f.name for f in layer.fields if f.kind in ("choice", "int", "decimal", "text")][:3],
        )
        search_fields = ("care_home__name",)

        def get_queryset(self, request):
            return super().get_queryset(request).filter(care_home__in=visible_carehomes(request.user))

        def has_add_permission(self, request):
            return False

        def has_change_permission(self, request, obj=None):
            return False

    return FeatureAdmin


for _layer in own_layers():
    admin.site.register(_layer.get_model(), _admin_for(_layer))
