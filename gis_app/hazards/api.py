"""Hazards as GeoJSON, and the same lifecycle as the web pages: POST /api/hazards/<id>/actions/<action>/.
Refusals answer 409 (or 403) with {"code": ..., "detail": ...}: the service's stable error code."""

from django.utils.dateparse import parse_datetime
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework_gis.serializers import GeoFeatureModelSerializer

from gis_app.carehomes.api import BBoxFilter, Pagination, read_only_api
from gis_app.carehomes.scope import visible_carehomes
from gis_app.lib.api import BBOX, CODED_DETAIL, DETAIL, FIELD_ERRORS, answers, header, query

from . import services
from .models import Hazard, Severity, Status


class HazardSerializer(GeoFeatureModelSerializer):
    care_home_name = serializers.CharField(source="care_home.name", read_only=True)
    status_label = serializers.CharField(source="get_status_display", read_only=True)
    is_overdue = serializers.BooleanField(read_only=True)
    criterion_code = serializers.CharField(source="criterion.code", read_only=True, default=None, allow_null=True)

    class Meta:
        model = Hazard
        geo_field = "location"
        fields = (
            "id",
            "care_home",
            "care_home_name",
            "category",
            "description",
            "severity",
            "criterion_code",
            "found_on",
            "due_on",
            "responsible_person",
            "status",
            "status_label",
            "is_overdue",
            "closed_on",
            "updated_at",
        )


class ActionSerializer(serializers.Serializer):
    comment = serializers.CharField(required=False, allow_blank=True, default="")
    responsible_person = serializers.CharField(required=False, allow_blank=True, default="")
    responsible_phone = serializers.CharField(required=False, allow_blank=True, default="")
    due_on = serializers.DateField(required=False, allow_null=True, default=None)
    measures = serializers.CharField(required=False, allow_blank=True, default="")
    safeguards = serializers.CharField(required=False, allow_blank=True, default="")
    planned_on = serializers.DateField(required=False, allow_null=True, default=None)


@read_only_api(
    HazardSerializer,
    BBOX,
    query("status", "a status, or `open` for every not yet closed", enum=["open", *Status.values]),
    query("severity", "general or major", enum=list(Severity.values)),
    query("overdue", "`true`: only hazards past their due date", enum=["true", "false"]),
)
class HazardViewSet(viewsets.ReadOnlyModelViewSet):
    """Hazards in the caller's scope. Filters: bbox, status (or `open`), severity, overdue=true."""

    serializer_class = HazardSerializer
    pagination_class = Pagination
    filter_backends = [BBoxFilter]
    geo_field = "location"

    def get_queryset(self):
        qs = Hazard.objects.filter(care_home__in=visible_carehomes(self.request.user)).select_related(
            "care_home", "criterion"
        )
        p = self.request.query_params
        if p.get("status") == "open":
            qs = qs.open()
        elif p.get("status"):
            qs = qs.filter(status=p["status"])
        if p.get("severity"):
            qs = qs.filter(severity=p["severity"])
        if p.get("overdue") == "true":
            qs = qs.overdue()
        return qs.order_by("id")

    @extend_schema(
        operation_id="hazard_action",
        description="One step of the hazard's lifecycle (the same rules as the web pages). Photos: multipart `photos`.",
        parameters=[
            OpenApiParameter("name", str, OpenApiParameter.PATH, enum=sorted(services.RULES), description="the step"),
            header("If-Match", "the hazard's updated_at as read; a step on a hazard changed since answers 409"),
        ],
        request=ActionSerializer,
        responses={
            200: HazardSerializer,
            400: OpenApiResponse({"anyOf": [CODED_DETAIL, FIELD_ERRORS]}, "invalid input, or an unknown step"),
            **answers(401),
            403: OpenApiResponse({"anyOf": [CODED_DETAIL, DETAIL]}, "your role may not take this step"),
            404: OpenApiResponse(DETAIL, "no such hazard in your scope"),
            409: OpenApiResponse(CODED_DETAIL, "the step is not possible now (the code says why), or a stale version"),
        },
    )
    @action(detail=True, methods=["post"], url_path=r"actions/(?P<name>[a-z_]+)")
    def actions(self, request, pk=None, name=None):
        hazard = self.get_object()
        if name not in services.RULES:
            return Response({"code": "unknown_action", "detail": f"unknown action {name!r}; one of {sorted(services.RULES)}"},
                            status=status.HTTP_400_BAD_REQUEST)  # fmt: skip
        data = ActionSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        d, user = data.validated_data, request.user
        photos = request.FILES.getlist("photos")
        # If-Match: the hazard's updated_at as the client read it; a step on a hazard changed since is refused (409).
        raw = request.headers.get("If-Match", "").removeprefix("W/").strip('"')
        try:
            expected = parse_datetime(raw) if raw else None
        except ValueError:
            expected = None
        if raw and expected is None:
            return Response(
                {"code": "bad_version", "detail": "If-Match must be the hazard's updated_at (ISO 8601)"},
                status=status.HTTP_400_BAD_REQUEST,
            )
        try:
            with services.expecting(expected):
                hazard = services.perform(name, hazard, by=user, data=d, photos=photos)
        except services.HazardError as exc:
            code = status.HTTP_403_FORBIDDEN if exc.code == "forbidden" else status.HTTP_409_CONFLICT
            return Response({"code": exc.code, "detail": exc.message}, status=code)
        return Response(HazardSerializer(hazard).data)
