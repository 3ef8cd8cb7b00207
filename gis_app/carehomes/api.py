"""GeoJSON REST API of the registry, scoped by role like every page. Auth: session or `Authorization: Token`."""

from django.contrib.gis.geos import Polygon
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import serializers, viewsets
from rest_framework.exceptions import ValidationError
from rest_framework.filters import BaseFilterBackend
from rest_framework_gis.pagination import GeoJsonPagination
from rest_framework_gis.serializers import GeoFeatureModelSerializer

from gis_app.lib.api import BBOX, answers, query
from gis_app.lib.srid import WGS84

from .models import CareHome, CareHomeStatus, Subdistrict
from .scope import visible_carehomes, visible_subdistricts


def _features_of(schema: dict) -> dict:
    """The features array of drf-spectacular's schema for a GeoJSON list (a reference to "<Name>List")."""
    ref = schema.get("$ref", "")
    if ref.endswith("List"):
        return {"type": "array", "items": {"$ref": ref.removesuffix("List")}}
    return schema.get("properties", {}).get("features", {"type": "array"})


class Pagination(GeoJsonPagination):
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000

    def get_paginated_response_schema(self, schema):
        """What get_paginated_response writes: a FeatureCollection with `features` (not DRF's `results`)."""
        link = {"type": "string", "format": "uri", "nullable": True}
        return {
            "type": "object",
            "required": ["type", "count", "features"],
            "properties": {
                "type": {"type": "string", "enum": ["FeatureCollection"]},
                "count": {"type": "integer"},
                "next": link,
                "previous": link,
                "features": _features_of(schema),
            },
        }


class SubdistrictSerializer(GeoFeatureModelSerializer):
    kind_label = serializers.CharField(source="get_kind_display", read_only=True)

    class Meta:
        model = Subdistrict
        geo_field = "boundary"
        fields = ("id", "code", "name", "kind", "kind_label", "boundary_is_approximate", "boundary_source")


class CareHomeSerializer(GeoFeatureModelSerializer):
    subdistrict_code = serializers.CharField(source="subdistrict.code", read_only=True, default=None, allow_null=True)
    subdistrict_name = serializers.CharField(source="subdistrict.name", read_only=True, default=None, allow_null=True)
    status_label = serializers.CharField(source="get_status_display", read_only=True)
    safety_service = serializers.CharField(source="safety_service.name", read_only=True, default=None, allow_null=True)

    class Meta:
        model = CareHome
        geo_field = "location"
        fields = (
            "id", "name", "credit_code", "address", "subdistrict_code", "subdistrict_name", "beds", "residents",
            "residents_full_care", "ownership", "operator", "legal_representative", "fire_safety_owner",
            "fire_safety_owner_phone", "fire_safety_manager", "fire_safety_manager_phone", "commitment_on",
            "safety_service", "status", "status_label", "is_demo", "updated_at", "location_status",
        )  # fmt: skip


def home_geometry_may_be_null(result, generator, request, public):
    """OpenAPI postprocessing: a home listed without coordinates (未定位) has `"geometry": null`."""
    home = result.get("components", {}).get("schemas", {}).get("CareHome")
    if home is not None:
        home["properties"]["geometry"]["nullable"] = True
    return result


def parse_bbox(raw: str) -> Polygon:
    """bbox=minLon,minLat,maxLon,maxLat in WGS84, as in OGC API - Features."""
    parts = raw.split(",")
    try:
        if len(parts) != 4:
            raise ValueError
        minx, miny, maxx, maxy = (float(p) for p in parts)
    except ValueError:
        raise ValidationError({"bbox": "expected four numbers: minLon,minLat,maxLon,maxLat"}) from None
    if not (-180 <= minx < maxx <= 180 and -90 <= miny < maxy <= 90):
        raise ValidationError({"bbox": "need -180<=minLon<maxLon<=180 and -90<=minLat<maxLat<=90"})
    box = Polygon.from_bbox((minx, miny, maxx, maxy))
    box.srid = WGS84
    return box


class BBoxFilter(BaseFilterBackend):
    def filter_queryset(self, request, queryset, view):
        raw = request.query_params.get("bbox")
        if not raw:
            return queryset
        return queryset.filter(**{f"{view.geo_field}__intersects": parse_bbox(raw)})


class SubdistrictCodeFilter(BaseFilterBackend):
    def filter_queryset(self, request, queryset, view):
        code = request.query_params.get("subdistrict")
        if not code:
            return queryset
        if not code.isdigit():
            raise ValidationError({"subdistrict": "expected a 街镇 code such as 120116001"})
        return queryset.filter(subdistrict__code=code)


class StatusFilter(BaseFilterBackend):
    def filter_queryset(self, request, queryset, view):
        status = request.query_params.get("status")
        if not status:
            return queryset
        if status not in CareHomeStatus.values:
            raise ValidationError({"status": f"expected one of {', '.join(CareHomeStatus.values)}"})
        return queryset.filter(status=status)


def read_only_api(serializer, *filters):
    """The OpenAPI of a read-only GeoJSON viewset: its list filters and the errors it answers (a page beyond the last
    is a 404, as DRF's paging answers)."""
    return extend_schema_view(
        list=extend_schema(parameters=list(filters), responses={200: serializer, **answers(400, 401, 404)}),
        retrieve=extend_schema(responses={200: serializer, **answers(401, 404)}),
    )


@read_only_api(SubdistrictSerializer, BBOX)
class SubdistrictViewSet(viewsets.ReadOnlyModelViewSet):
    """街镇 with their boundaries (MultiPolygon, WGS84)."""

    serializer_class = SubdistrictSerializer
    pagination_class = Pagination
    filter_backends = [BBoxFilter]
    geo_field = "boundary"

    def get_queryset(self):
        return visible_subdistricts(self.request.user)


@read_only_api(
    CareHomeSerializer,
    BBOX,
    query("subdistrict", "only homes in this 街镇 (its code, e.g. 120116001)", pattern=r"^[0-9]+$"),
    query("status", "only homes with this status", enum=list(CareHomeStatus.values)),
)
class CareHomeViewSet(viewsets.ReadOnlyModelViewSet):
    """Care homes as GeoJSON points. Filters: bbox, subdistrict (code), status; paginated (page, page_size)."""

    serializer_class = CareHomeSerializer
    pagination_class = Pagination
    filter_backends = [BBoxFilter, SubdistrictCodeFilter, StatusFilter]
    geo_field = "location"

    def get_queryset(self):
        return visible_carehomes(self.request.user).select_related("subdistrict", "safety_service").order_by("id")
