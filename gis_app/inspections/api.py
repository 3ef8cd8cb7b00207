"""POST /api/inspections/: record an inspection as JSON, through the same service and rules as the web form.

{"care_home": 12, "kind": "self_check", "frequency": "daily", "inspected_on": "2026-11-30", "signed_by_name": "张三",
 "inspectors": [{"name": "张三", "organisation": "..."}],
 "results": [{"item": "R01", "result": "pass"}, {"item": "L01", "result": "fail", "note": "...", "lon": 117.6, "lat": 39.0}]}
"""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from gis_app.carehomes.scope import visible_carehomes
from gis_app.lib.api import CODED_ERRORS, FIELD_ERRORS, answers, header
from gis_app.lib.idempotency import submission_uuid

from .models import Frequency, InspectionKind
from .services import InspectionError, InspectionInput, InspectorEntry, ItemAnswer, record_inspection


class ResultIn(serializers.Serializer):
    item = serializers.CharField()
    result = serializers.CharField()
    note = serializers.CharField(required=False, allow_blank=True, default="")
    lon = serializers.FloatField(required=False, allow_null=True, default=None)
    lat = serializers.FloatField(required=False, allow_null=True, default=None)


class InspectorIn(serializers.Serializer):
    name = serializers.CharField()
    organisation = serializers.CharField(required=False, allow_blank=True, default="")


class InspectionIn(serializers.Serializer):
    care_home = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=InspectionKind.choices)
    frequency = serializers.ChoiceField(choices=Frequency.choices, required=False, allow_null=True, default=None)
    inspected_on = serializers.DateField()
    signed_by_name = serializers.CharField()
    note = serializers.CharField(required=False, allow_blank=True, default="")
    inspectors = InspectorIn(many=True, required=False, default=list)
    results = ResultIn(many=True)


class InspectionRecorded(serializers.Serializer):
    id = serializers.IntegerField()
    hazards = serializers.ListField(child=serializers.IntegerField(), help_text="hazards opened by failed items")


class InspectionCreateView(APIView):
    @extend_schema(
        operation_id="inspection_create",
        description="Records an inspection of a care home in your scope, through the same rules as the web form.",
        parameters=[header("Idempotency-Key", "a UUID per submission: a repeat answers the first one's result")],
        request=InspectionIn,
        responses={
            201: InspectionRecorded,
            400: OpenApiResponse({"anyOf": [CODED_ERRORS, FIELD_ERRORS]}, "invalid input, each problem named"),
            **answers(401, 403),
            404: OpenApiResponse(FIELD_ERRORS, "no such care home in your scope"),
        },
    )
    def post(self, request):
        data = InspectionIn(data=request.data)
        data.is_valid(raise_exception=True)
        d = data.validated_data
        home = visible_carehomes(request.user).filter(pk=d["care_home"]).first()
        if home is None:
            return Response({"care_home": "not found in your scope"}, status=status.HTTP_404_NOT_FOUND)
        try:
            key = submission_uuid(request.user, request.headers.get("Idempotency-Key"))
        except ValueError as exc:
            return Response({"Idempotency-Key": str(exc)}, status=status.HTTP_400_BAD_REQUEST)
        try:
            inspection = record_inspection(
                InspectionInput(
                    care_home=home, kind=d["kind"], frequency=d["frequency"], inspected_on=d["inspected_on"],
                    signed_by_name=d["signed_by_name"], note=d["note"],
                    inspectors=[InspectorEntry(i["name"], i["organisation"]) for i in d["inspectors"]],
                    answers=[ItemAnswer(r["item"], r["result"], r["note"], None, r["lon"], r["lat"]) for r in d["results"]],
                    uuid=key,
                ),
                by=request.user,
            )  # fmt: skip
        except InspectionError as exc:
            return Response({"errors": exc.errors}, status=status.HTTP_400_BAD_REQUEST)
        # A repeat (same Idempotency-Key) gets the first submission's answer, marked as a replay.
        response = Response(
            {"id": inspection.pk, "hazards": list(inspection.hazards.values_list("pk", flat=True))},
            status=status.HTTP_201_CREATED,
        )
        if getattr(inspection, "replayed", False):
            response["Idempotent-Replayed"] = "true"
        return response
