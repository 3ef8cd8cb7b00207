"""REST API of the layers, generated from the catalogue: GeoJSON read for every layer, create/update/delete where the
catalogue lets the caller's role edit. Errors are precise: 400 {"errors": {field: reason}}, 403, 404."""

import json
import uuid as uuidlib

from django.db import IntegrityError
from django.http import HttpResponse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.exceptions import NotFound
from rest_framework.response import Response

from gis_app.carehomes.scope import visible_carehomes
from gis_app.lib.api import BBOX, answers, header, query
from gis_app.lib.idempotency import submission_uuid

from . import queries, services
from .catalogue import BY_KEY, CATALOGUE, Layer
from .openapi import (
    CATALOGUE_SCHEMA,
    COLLECTION,
    DUPLICATE,
    FEATURE,
    FEATURE_BODY,
    FILTERS,
    GEOJSON,
    LAYER,
    LAYER_ERRORS,
    NOT_FOUND,
    STALE,
)
from .views_base import GisAPIView

IDENT = OpenApiParameter(
    "ident", str, OpenApiParameter.PATH, description="the feature's uuid (hazards: its id)", pattern=r"^[^/]+$"
)
IF_MATCH = header("If-Match", "the ETag (updated_at) of the version edited from; a newer version answers 409")
IDEMPOTENCY_KEY = header("Idempotency-Key", "a UUID per submission: a repeat answers the first one's result")
CHECK_DUPLICATES = query(
    "check_duplicates",
    "true: refuse (409, code duplicate) a feature that probably repeats one of the same layer and home",
    type=bool,
)
ETAG = OpenApiParameter("ETag", str, OpenApiParameter.HEADER, response=[200], description="the feature's version")

# Deeper than this, OFFSET paging is slow and pointless: the `next` links page by key.
MAX_PAGE = 10_000


def geojson_response(text: str, status: int = 200) -> HttpResponse:
    return HttpResponse(text, status=status, content_type="application/geo+json; charset=utf-8")


def layer_or_404(key: str) -> Layer:
    try:
        return BY_KEY[key]
    except KeyError:
        raise NotFound(f"unknown layer {key!r}; layers: {', '.join(BY_KEY)}") from None


def catalogue_json(user=None) -> list[dict]:
    from gis_app.carehomes.scope import role_of

    role = role_of(user) if user is not None else None
    return [
        {
            "key": layer.key,
            "title": layer.title,
            "geometry": list(layer.geometry),
            "editable": role in layer.edit_roles,
            "status_field": layer.status_field,
            "problem_values": sorted(layer.problem_values),
            "problem_flags": list(layer.problem_flags),
            "style": layer.style.__dict__,
            "fields": [
                {
                    "name": f.name,
                    "label": f.label,
                    "kind": f.kind,
                    "required": f.required,
                    "unit": f.unit,
                    "help": f.help,
                    "min": f.min,
                    "max": f.max,
                    "values": [list(v) for v in f.values.values] if f.values else None,
                }
                for f in layer.fields
            ],
        }  # fmt: skip
        for layer in CATALOGUE
    ]


class CatalogueView(GisAPIView):
    """The layer catalogue as JSON: titles, geometry types, fields, value lists, styles, and whether you may edit."""

    @extend_schema(operation_id="layers_catalogue", responses={200: CATALOGUE_SCHEMA, **answers(401)})
    def get(self, request):
        return Response(catalogue_json(request.user))


def _read_body(request) -> tuple[dict, object]:
    data = request.data
    if not isinstance(data, dict):
        raise services.FeatureError({"body": "expected a GeoJSON Feature object"})
    if data.get("type") not in (None, "Feature"):
        raise services.FeatureError({"type": "expected a GeoJSON Feature"})
    props = data.get("properties") or {}
    if not isinstance(props, dict):
        raise services.FeatureError({"properties": "expected an object"})
    return dict(props), data.get("geometry")


def _error(exc: services.FeatureError, spec: Layer | None = None, feature=None) -> Response:
    if exc.code == "stale" and feature is not None:
        # Both versions named: the editor's (in the message) and the current one, in full, to re-apply onto.
        current = json.loads(_one(spec, feature).content)
        return Response({"code": "stale", "errors": exc.errors, "current": current}, status=409)
    if exc.code == "duplicate":
        return Response({"code": "duplicate", "errors": exc.errors, **exc.detail}, status=409)
    status = 403 if exc.code in ("forbidden", "read_only") else 400
    return Response({"code": exc.code, "errors": exc.errors}, status=status)


def _expected_version(request, props: dict):
    """The version the client edits from: If-Match (the ETag of a GET) or properties.updated_at; None when neither."""
    raw = request.headers.get("If-Match", "").removeprefix("W/").strip('"') or props.get("updated_at")
    if not raw:
        return None
    try:
        when = parse_datetime(str(raw))
    except ValueError:
        when = None
    if when is None or timezone.is_naive(when):
        raise services.FeatureError(
            {"version": f"版本 {str(raw)[:40]!r} 无效：应为要素的 updated_at（ISO 8601，带时区）"}
        )
    return when


def _etag(feature) -> str:
    return f'"{feature.updated_at.isoformat()}"'


class FeatureListView(GisAPIView):
    """GET: features of one layer (bbox, care_home, subdistrict, status; page, page_size). POST: a GeoJSON Feature."""

    @extend_schema(
        operation_id="layer_features_list",
        description="Features of one layer in your scope, as a GeoJSON FeatureCollection. Deep pages: follow `next`.",
        parameters=[
            LAYER,
            BBOX,
            *FILTERS,
            query("page", f"page number, 1 to {MAX_PAGE}", int),
            query("page_size", "features per page (1 to 1000, default 100)", int),
            query("after", "keyset paging: features with an id above this (what `next` links use)", int),
        ],
        responses={(200, GEOJSON): COLLECTION, **answers(400, 401), 404: NOT_FOUND},
    )
    def get(self, request, layer: str):
        spec = layer_or_404(layer)
        try:
            qs = queries.filtered(spec, queries.scoped(spec, request.user), request.query_params)
        except queries.QueryError as exc:
            return Response({exc.param: str(exc)}, status=400)
        try:
            size = min(1000, max(1, int(request.query_params.get("page_size", 100))))
            after = request.query_params.get("after")
            after = int(after) if after else None
            page = max(1, int(request.query_params.get("page", 1)))
            if page > MAX_PAGE or (after is not None and not 0 <= after < 2**63):
                raise ValueError
        except ValueError:
            return Response(
                {
                    "page": f"page (1 to {MAX_PAGE}), page_size and after (0 to 2^63-1) must be integers; "
                    "for deep pages follow the `next` link (keyset paging)"
                },
                status=400,
            )
        url = request.build_absolute_uri
        params = request.query_params.copy()
        links = {}
        if after is not None:
            # Keyset paging (what the `next` links use): constant time however deep the page.
            rows = list(queries.feature_rows(spec, qs.filter(id__gt=after))[:size])
            count = None
        else:
            count = qs.count()
            rows = list(queries.feature_rows(spec, qs)[(page - 1) * size : page * size])
            if page > 1:
                params["page"] = page - 1
                links["previous"] = url(f"?{params.urlencode()}")
        if len(rows) == size:
            params.pop("page", None)
            params["after"] = rows[-1]["id"]
            links["next"] = url(f"?{params.urlencode()}")
        extra = {"count": count, **links} if count is not None else links
        return geojson_response(queries.collection_json(spec, rows, extra))

    @extend_schema(
        operation_id="layer_features_create",
        description="Adds a feature to a care home in your scope (roles that may edit the layer).",
        parameters=[LAYER, IDEMPOTENCY_KEY, CHECK_DUPLICATES],
        request=FEATURE_BODY,
        responses={
            (201, GEOJSON): FEATURE,
            **answers(401),
            **LAYER_ERRORS,
            404: NOT_FOUND,
            409: OpenApiResponse(DUPLICATE, "probably drawn twice (only with check_duplicates=true)"),
        },
    )
    def post(self, request, layer: str):
        spec = layer_or_404(layer)
        try:
            props, geometry = _read_body(request)
            home_id = props.pop("care_home", None)
            props.pop("care_home_name", None)
            home = visible_carehomes(request.user).filter(pk=home_id).first() if str(home_id).isdigit() else None
            if home is None:
                raise services.FeatureError({"care_home": "unknown care home, or not in your scope"})
            try:
                key = submission_uuid(request.user, request.headers.get("Idempotency-Key"))
            except ValueError as exc:
                raise services.FeatureError({"Idempotency-Key": str(exc)}) from None
            earlier = spec.get_model().objects.filter(uuid=key, care_home=home).first() if key else None
            if earlier is None:
                try:
                    feature = services.save_feature(
                        spec,
                        by=request.user,
                        home=home,
                        geometry=geometry,
                        attributes=_strip_labels(spec, props),
                        uuid=key,
                        check_duplicates=_flag(request, "check_duplicates"),
                    )
                except IntegrityError:  # the same key arrived twice at once: the other request created it
                    earlier = spec.get_model().objects.filter(uuid=key, care_home=home).first() if key else None
                    if earlier is None:
                        raise
        except services.FeatureError as exc:
            return _error(exc)
        if earlier is not None:  # a repeat of one creation: the first one's answer
            response = _one(spec, earlier, status=201)
            response["Idempotent-Replayed"] = "true"
            return response
        return _one(spec, feature, status=201)


def _flag(request, name: str) -> bool:
    raw = request.query_params.get(name, "false").lower()
    if raw not in ("true", "false", "1", "0"):
        raise services.FeatureError({name: f"expected true or false, got {raw[:20]!r}"})
    return raw in ("true", "1")


def _strip_labels(spec: Layer, props: dict) -> dict:
    computed = {f.name for f in spec.fields if f.kind == "computed"}
    return {k: v for k, v in props.items() if not k.endswith("_label") and k not in computed and k != "updated_at"}


def _one(spec: Layer, feature, status: int = 200) -> HttpResponse:
    qs = spec.get_model().objects.filter(pk=feature.pk)
    row = queries.feature_rows(spec, qs).get()
    return geojson_response(queries.feature_json(spec, row), status=status)


ONE = {(200, GEOJSON): FEATURE, **answers(401), 404: NOT_FOUND}
CHANGE = {
    (200, GEOJSON): FEATURE,
    **answers(401),
    **LAYER_ERRORS,
    404: NOT_FOUND,
    409: OpenApiResponse(STALE, "changed since the version edited from"),
}


class FeatureDetailView(GisAPIView):
    def _get(self, request, spec: Layer, ident: str):
        qs = queries.scoped(spec, request.user)
        try:
            lookup = {"uuid": uuidlib.UUID(ident)} if spec.owned_here else {"pk": int(ident)}
        except ValueError:
            raise NotFound("no such feature") from None
        feature = qs.filter(**lookup).select_related("care_home").first()
        if feature is None:
            raise NotFound("no such feature in your scope")
        return feature

    @extend_schema(operation_id="layer_feature_read", parameters=[LAYER, IDENT, ETAG], responses=ONE)
    def get(self, request, layer: str, ident: str):
        spec = layer_or_404(layer)
        feature = self._get(request, spec, ident)
        response = _one(spec, feature)
        if spec.owned_here:
            response["ETag"] = _etag(feature)
        return response

    @extend_schema(
        operation_id="layer_feature_update",
        description="Changes the fields sent (and the geometry when sent); the others are kept.",
        parameters=[LAYER, IDENT, IF_MATCH],
        request=FEATURE_BODY,
        responses=CHANGE,
    )
    def patch(self, request, layer: str, ident: str):
        spec = layer_or_404(layer)
        feature = self._get(request, spec, ident)
        try:
            props, geometry = _read_body(request)
            expected = _expected_version(request, props)
            props.pop("care_home", None)
            props.pop("care_home_name", None)
            feature = services.save_feature(
                spec,
                by=request.user,
                instance=feature,
                geometry=geometry,
                attributes=_strip_labels(spec, props),
                expected_updated_at=expected,
            )
        except services.FeatureError as exc:
            return _error(exc, spec, self._get(request, spec, ident))
        response = _one(spec, feature)
        response["ETag"] = _etag(feature)
        return response

    @extend_schema(
        operation_id="layer_feature_replace",
        parameters=[LAYER, IDENT, IF_MATCH],
        request=FEATURE_BODY,
        responses=CHANGE,
    )
    def put(self, request, layer: str, ident: str):
        """Like PATCH: the fields sent are changed, the others kept."""
        return self.patch(request, layer, ident)

    @extend_schema(
        operation_id="layer_feature_delete",
        parameters=[LAYER, IDENT, IF_MATCH],
        responses={204: None, **{k: v for k, v in CHANGE.items() if k != (200, GEOJSON)}},
    )
    def delete(self, request, layer: str, ident: str):
        spec = layer_or_404(layer)
        feature = self._get(request, spec, ident)
        try:
            services.delete_feature(spec, feature, by=request.user, expected_updated_at=_expected_version(request, {}))
        except services.FeatureError as exc:
            return _error(exc, spec, feature)
        return Response(status=204)
