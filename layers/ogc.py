"""OGC API - Features (Part 1: Core, GeoJSON) at /ogc/, so QGIS and GDAL add the layers directly.
Scoped like every API (token or session); coordinates in CRS84 (lon, lat)."""

import json
from datetime import UTC, datetime

from django.contrib.gis.db.models import Extent
from django.http import HttpResponse
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.response import Response

from gis_app.lib.api import BBOX, STRING, answers, component, query

from . import queries
from .api import geojson_response, layer_or_404
from .catalogue import CATALOGUE, Layer
from .openapi import COLLECTION, FEATURE, FILTERS, GEOJSON, LINK, NOT_FOUND
from .openapi import LAYER as COLLECTION_ID
from .views_base import GisAPIView

CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
]
CRS84, CGCS2000 = queries.CRS84, queries.CGCS2000
MAX_LIMIT = 10_000
MAX_OFFSET = 10_000_000  # beyond any layer's size; keeps OFFSET inside PostgreSQL's bigint


LINKS = {"type": "array", "items": LINK}
LANDING = component(
    "OGCLanding",
    {"type": "object", "required": ["links"], "properties": {"title": STRING, "description": STRING, "links": LINKS}},
)
CONFORMANCE_SCHEMA = component(
    "OGCConformance",
    {"type": "object", "required": ["conformsTo"], "properties": {"conformsTo": {"type": "array", "items": STRING}}},
)
COLLECTION_INFO = component(
    "OGCCollection",
    {
        "type": "object",
        "required": ["id", "links"],
        "properties": {
            "id": STRING,
            "title": STRING,
            "description": STRING,
            "itemType": STRING,
            "crs": {"type": "array", "items": STRING},
            "extent": {"type": "object"},
            "links": LINKS,
        },
    },
)
COLLECTIONS = component(
    "OGCCollections",
    {
        "type": "object",
        "required": ["links", "collections"],
        "properties": {"links": LINKS, "collections": {"type": "array", "items": COLLECTION_INFO}},
    },
)
OGC_EXCEPTION = component(
    "OGCException",
    {"type": "object", "required": ["code", "description"], "properties": {"code": STRING, "description": STRING}},
)
CRS = query("crs", "the coordinates' CRS: CRS84 (default, longitude first) or CGCS2000", enum=[CRS84, CGCS2000])
BBOX_CRS = query("bbox-crs", "the CRS of `bbox` (CGCS2000: minLat,minLon,maxLat,maxLon)", enum=[CRS84, CGCS2000])
CONTENT_CRS = OpenApiParameter(
    "Content-Crs", str, OpenApiParameter.HEADER, response=[200], description="the CRS of the coordinates, as <uri>"
)
FID = OpenApiParameter(
    "fid", str, OpenApiParameter.PATH, description="the feature's uuid (hazards: its id)", pattern=r"^[^/]+$"
)


def _json(data, content_type="application/json") -> HttpResponse:
    return HttpResponse(json.dumps(data, ensure_ascii=False), content_type=f"{content_type}; charset=utf-8")


class Landing(GisAPIView):
    @extend_schema(operation_id="ogc_landing", responses={200: LANDING, **answers(401)})
    def get(self, request):
        base = request.build_absolute_uri("/ogc")
        return _json({
            "title": "滨海新区养老机构消防安全平台 · OGC API - Features",
            "description": "养老机构消防安全图层（消防车通道、安全出口、疏散通道、电动自行车充电区、微型消防站、消防设施、隐患）",
            "links": [
                {"href": f"{base}/", "rel": "self", "type": "application/json", "title": "this document"},
                {"href": f"{base}/conformance", "rel": "conformance", "type": "application/json"},
                {"href": f"{base}/collections", "rel": "data", "type": "application/json"},
                {"href": request.build_absolute_uri("/api/schema/"), "rel": "service-desc",
                 "type": "application/vnd.oai.openapi+json;version=3.0"},
            ],
        })  # fmt: skip


class Conformance(GisAPIView):
    @extend_schema(operation_id="ogc_conformance", responses={200: CONFORMANCE_SCHEMA, **answers(401)})
    def get(self, request):
        return _json({"conformsTo": CONFORMANCE})


def _collection(request, layer: Layer) -> dict:
    base = request.build_absolute_uri(f"/ogc/collections/{layer.key}")
    extent = queries.scoped(layer, request.user).aggregate(e=Extent(layer.geometry_field))["e"]
    return {
        "id": layer.key,
        "title": layer.title,
        "description": f"{layer.title}（{'、'.join(layer.geometry)}）",
        "itemType": "feature",
        "crs": [CRS84, CGCS2000],
        "storageCrs": CRS84,
        "extent": {"spatial": {"bbox": [list(extent) if extent else [117.1, 38.5, 118.1, 39.5]], "crs": CRS84}},
        "links": [
            {"href": base, "rel": "self", "type": "application/json"},
            {"href": f"{base}/items", "rel": "items", "type": "application/geo+json"},
        ],
    }


class Collections(GisAPIView):
    @extend_schema(operation_id="ogc_collections", responses={200: COLLECTIONS, **answers(401)})
    def get(self, request):
        base = request.build_absolute_uri("/ogc/collections")
        return _json({
            "links": [{"href": base, "rel": "self", "type": "application/json"}],
            "collections": [_collection(request, layer) for layer in CATALOGUE],
        })  # fmt: skip


class Collection(GisAPIView):
    @extend_schema(
        operation_id="ogc_collection",
        parameters=[COLLECTION_ID],
        responses={200: COLLECTION_INFO, **answers(401), 404: NOT_FOUND},
    )
    def get(self, request, collection: str):
        return _json(_collection(request, layer_or_404(collection)))


class Items(GisAPIView):
    @extend_schema(
        operation_id="ogc_items",
        parameters=[
            COLLECTION_ID,
            query("limit", f"features per response (1 or more; at most {MAX_LIMIT} are returned)", int),
            query("offset", f"features to skip (0 to {MAX_OFFSET})", int),
            BBOX,
            CRS,
            BBOX_CRS,
            CONTENT_CRS,
            *FILTERS,
        ],
        responses={
            (200, GEOJSON): COLLECTION,
            400: OpenApiResponse(OGC_EXCEPTION, "a bad parameter, named"),
            **answers(401),
            404: NOT_FOUND,
        },
    )
    def get(self, request, collection: str):
        layer = layer_or_404(collection)
        p = request.query_params
        try:
            limit = int(p.get("limit", 10))
            offset = int(p.get("offset", 0))
            if not (1 <= limit and 0 <= offset <= MAX_OFFSET):
                raise ValueError
        except ValueError:
            return Response(
                {
                    "code": "InvalidParameterValue",
                    "description": f"limit must be >= 1 and offset between 0 and {MAX_OFFSET}",
                },
                status=400,
            )
        limit = min(limit, MAX_LIMIT)
        try:
            srid = queries.crs_srid(p.get("crs"))
            qs = queries.filtered(layer, queries.scoped(layer, request.user), p)
        except queries.QueryError as exc:
            return Response({"code": "InvalidParameterValue", "description": f"{exc.param}: {exc}"}, status=400)
        matched = qs.count()
        rows = list(queries.feature_rows(layer, qs, srid)[offset : offset + limit])
        base = request.build_absolute_uri(f"/ogc/collections/{layer.key}/items")
        params = p.copy()
        params["limit"] = limit

        def link(rel: str, off: int) -> dict:
            params["offset"] = off
            return {"href": f"{base}?{params.urlencode()}", "rel": rel, "type": "application/geo+json"}

        links = [link("self", offset)]
        if offset + limit < matched:
            links.append(link("next", offset + limit))
        if offset > 0:
            links.append(link("prev", max(0, offset - limit)))
        links.append({"href": request.build_absolute_uri(f"/ogc/collections/{layer.key}"), "rel": "collection",
                      "type": "application/json"})  # fmt: skip
        extra = {"numberMatched": matched, "numberReturned": len(rows),
                 "timeStamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), "links": links}  # fmt: skip
        response = geojson_response(queries.collection_json(layer, rows, extra))
        response["Content-Crs"] = f"<{p.get('crs') or CRS84}>"
        return response


class Item(GisAPIView):
    @extend_schema(
        operation_id="ogc_item",
        parameters=[COLLECTION_ID, FID, CRS, CONTENT_CRS],
        responses={
            (200, GEOJSON): FEATURE,
            400: OpenApiResponse(OGC_EXCEPTION, "an unsupported crs"),
            **answers(401),
            404: NOT_FOUND,
        },
    )
    def get(self, request, collection: str, fid: str):
        from .api import FeatureDetailView

        layer = layer_or_404(collection)
        feature = FeatureDetailView()._get(request, layer, fid)
        try:
            srid = queries.crs_srid(request.query_params.get("crs"))
        except queries.QueryError as exc:
            return Response({"code": "InvalidParameterValue", "description": f"{exc.param}: {exc}"}, status=400)
        row = queries.feature_rows(layer, layer.get_model().objects.filter(pk=feature.pk), srid).get()
        data = json.loads(queries.feature_json(layer, row))
        data["links"] = [
            {"href": request.build_absolute_uri(), "rel": "self", "type": "application/geo+json"},
            {
                "href": request.build_absolute_uri(f"/ogc/collections/{layer.key}"),
                "rel": "collection",
                "type": "application/json",
            },
        ]
        response = geojson_response(json.dumps(data, ensure_ascii=False))
        response["Content-Crs"] = f"<{request.query_params.get('crs') or CRS84}>"
        return response
