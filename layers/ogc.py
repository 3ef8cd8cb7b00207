"""OGC API - Features at /ogc/ (Part 1 Core + GeoJSON, Part 2 CRS, Part 3 queryables as query parameters), so QGIS,
ArcGIS Pro and GDAL add the layers directly: every catalogue layer, the care homes and the 街镇 boundaries. Scoped like
every API (token, Basic with a GIS token, or session); coordinates in CRS84 (lon, lat) or CGCS2000."""

import json
from datetime import UTC, datetime

from django.http import HttpResponse
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.exceptions import NotFound
from rest_framework.response import Response

from gis_app.lib.api import BBOX, GEOMETRY, STRING, answers, component, path, query

from . import queries
from .api import FeatureDetailView, geojson_response
from .collections import BY_KEY as COLLECTION_BY_KEY
from .collections import COLLECTIONS, RESERVED, LayerCollection, Reference, extent, queryables
from .openapi import FILTERS, GEOJSON, LINK, NOT_FOUND, field_schema
from .views_base import GisAPIView

CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables-query-parameters",
]
QUERYABLES_REL = "http://www.opengis.net/def/rel/ogc/1.0/queryables"
CRS84, CGCS2000 = queries.CRS84, queries.CGCS2000
MAX_LIMIT = 10_000
MAX_OFFSET = 10_000_000  # beyond any layer's size; keeps OFFSET inside PostgreSQL's bigint


LINKS = {"type": "array", "items": LINK}


def _reference_properties(ref: Reference) -> dict:
    props = {}
    for f in ref.fields:
        props[f.name] = field_schema(f)
        if f.values is not None:
            props[f"{f.name}_label"] = {"type": "string", "description": f"{f.label}（中文）"}
    required = [f.name for f in ref.fields]
    return {"type": "object", "title": ref.title, "properties": props, "required": required}


OGC_FEATURE = component(
    "OGCFeature",
    {
        "type": "object",
        "description": "A GeoJSON Feature of a collection: a layer's (`id` its uuid, a hazard's its integer id), a care "
        "home (`id` its integer id) or a 街镇 (`id` its code).",
        "required": ["type", "id", "geometry", "properties"],
        "properties": {
            "type": {"type": "string", "enum": ["Feature"]},
            "id": {"oneOf": [{"type": "string"}, {"type": "integer"}]},
            "geometry": {**GEOMETRY, "nullable": True},
            "properties": {
                "anyOf": [
                    {"$ref": f"#/components/schemas/{c.key}_properties"}
                    if isinstance(c, LayerCollection)
                    else component(f"{c.key}_properties", _reference_properties(c))
                    for c in COLLECTIONS
                ]
            },
            "links": {"type": "array", "items": LINK},
        },
    },
)
OGC_ITEMS = component(
    "OGCFeatureCollection",
    {
        "type": "object",
        "required": ["type", "features", "numberMatched", "numberReturned", "links"],
        "properties": {
            "type": {"type": "string", "enum": ["FeatureCollection"]},
            "features": {"type": "array", "items": OGC_FEATURE},
            "numberMatched": {"type": "integer"},
            "numberReturned": {"type": "integer"},
            "timeStamp": {"type": "string", "format": "date-time"},
            "links": LINKS,
        },
    },
)
QUERYABLES = component(
    "OGCQueryables",
    {
        "type": "object",
        "description": "JSON Schema of the properties usable as `name=value` query parameters of /items",
        "required": ["type", "properties"],
        "properties": {
            "$schema": STRING,
            "$id": STRING,
            "type": {"type": "string", "enum": ["object"]},
            "title": STRING,
            "properties": {"type": "object"},
            "additionalProperties": {"type": "boolean"},
        },
    },
)
COLLECTION_ID = path(
    "collection",
    "the collection: a layer's key (see /api/layers/), carehome or subdistrict",
    enum=list(COLLECTION_BY_KEY),
)
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
COLLECTIONS_SCHEMA = component(
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


def collection_or_404(key: str):
    try:
        return COLLECTION_BY_KEY[key]
    except KeyError:
        raise NotFound(f"unknown collection {key!r}; collections: {', '.join(COLLECTION_BY_KEY)}") from None


def _collection(request, collection) -> dict:
    base = request.build_absolute_uri(f"/ogc/collections/{collection.key}")
    box = extent(collection, collection.scoped(request.user))
    description = getattr(collection, "description", None) or f"{collection.title}（{'、'.join(collection.geometry)}）"
    return {
        "id": collection.key,
        "title": collection.title,
        "description": description,
        "itemType": "feature",
        "crs": [CRS84, CGCS2000],
        "storageCrs": CRS84,
        "extent": {"spatial": {"bbox": [list(box) if box else [117.1, 38.5, 118.1, 39.5]], "crs": CRS84}},
        "links": [
            {"href": base, "rel": "self", "type": "application/json"},
            {"href": f"{base}/items", "rel": "items", "type": "application/geo+json"},
            {"href": f"{base}/queryables", "rel": QUERYABLES_REL, "type": "application/schema+json"},
        ],
    }


class Collections(GisAPIView):
    @extend_schema(operation_id="ogc_collections", responses={200: COLLECTIONS_SCHEMA, **answers(401)})
    def get(self, request):
        base = request.build_absolute_uri("/ogc/collections")
        return _json({
            "links": [{"href": base, "rel": "self", "type": "application/json"}],
            "collections": [_collection(request, collection) for collection in COLLECTIONS],
        })  # fmt: skip


class Collection(GisAPIView):
    @extend_schema(
        operation_id="ogc_collection",
        parameters=[COLLECTION_ID],
        responses={200: COLLECTION_INFO, **answers(401), 404: NOT_FOUND},
    )
    def get(self, request, collection: str):
        return _json(_collection(request, collection_or_404(collection)))


GEOMETRY_FORMAT = {
    "Point": "geometry-point",
    "LineString": "geometry-linestring",
    "Polygon": "geometry-polygon",
    "MultiPolygon": "geometry-multipolygon",
}


def queryables_json(request, collection) -> dict:
    formats = [GEOMETRY_FORMAT[g] for g in collection.geometry]
    geometry = {"x-ogc-role": "primary-geometry", "title": "几何"}
    geometry.update({"format": formats[0]} if len(formats) == 1 else {"oneOf": [{"format": f} for f in formats]})
    props = {"geometry": geometry}
    for field in queryables(collection.fields):
        schema = {k: v for k, v in field_schema(field).items() if k not in ("nullable", "description")}
        schema["title"] = field.label + (f"（{field.unit}）" if field.unit else "")
        if field.values is not None:
            schema["x-labels"] = dict(field.values.values)
        props[field.name] = schema
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": request.build_absolute_uri(f"/ogc/collections/{collection.key}/queryables"),
        "type": "object",
        "title": collection.title,
        "properties": props,
        "additionalProperties": False,
    }


class Queryables(GisAPIView):
    @extend_schema(
        operation_id="ogc_queryables",
        description="The properties of a collection that /items filters on as `name=value` (equality), typed.",
        parameters=[COLLECTION_ID],
        responses={(200, "application/schema+json"): QUERYABLES, **answers(401), 404: NOT_FOUND},
    )
    def get(self, request, collection: str):
        return _json(queryables_json(request, collection_or_404(collection)), "application/schema+json")


def _queryable_parameters() -> list:
    """Every queryable of any collection as an optional query parameter (equality); a collection ignores the names
    that are not its queryables (see /queryables)."""
    owners: dict[str, list[str]] = {}
    for collection in COLLECTIONS:
        for field in queryables(collection.fields):
            owners.setdefault(field.name, []).append(collection.key)
    return [
        query(name, f"queryable of {', '.join(keys)}: only features whose {name} equals this value")
        for name, keys in sorted(owners.items())
        if name not in RESERVED
    ]


def _bad(exc: queries.QueryError) -> Response:
    return Response({"code": "InvalidParameterValue", "description": f"{exc.param}: {exc}"}, status=400)


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
            *_queryable_parameters(),
        ],
        responses={
            (200, GEOJSON): OGC_ITEMS,
            400: OpenApiResponse(OGC_EXCEPTION, "a bad parameter, named"),
            **answers(401),
            404: NOT_FOUND,
        },
    )
    def get(self, request, collection: str):
        collection = collection_or_404(collection)
        p = request.query_params
        try:
            limit = int(p.get("limit", 10))
            offset = int(p.get("offset", 0))
            if not (1 <= limit and 0 <= offset <= MAX_OFFSET):
                raise ValueError
        except ValueError:
            return _bad(queries.QueryError("limit", f"limit must be >= 1 and offset between 0 and {MAX_OFFSET}"))
        limit = min(limit, MAX_LIMIT)
        try:
            srid = queries.crs_srid(p.get("crs"))
            qs = collection.filtered(collection.scoped(request.user), p)
            matched = qs.count()
        except queries.QueryError as exc:
            return _bad(exc)
        rows = list(collection.rows(qs, srid)[offset : offset + limit])
        base = request.build_absolute_uri(f"/ogc/collections/{collection.key}/items")
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
        links.append({"href": request.build_absolute_uri(f"/ogc/collections/{collection.key}"), "rel": "collection",
                      "type": "application/json"})  # fmt: skip
        head = {
            "type": "FeatureCollection",
            "numberMatched": matched,
            "numberReturned": len(rows),
            "timeStamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "links": links,
        }
        head = json.dumps(head, ensure_ascii=False)[:-1]
        body = head + ',"features":[' + ",".join(collection.feature_json(r) for r in rows) + "]}"
        response = geojson_response(body)
        response["Content-Crs"] = f"<{p.get('crs') or CRS84}>"
        return response


class Item(GisAPIView):
    @extend_schema(
        operation_id="ogc_item",
        parameters=[COLLECTION_ID, FID, CRS, CONTENT_CRS],
        responses={
            (200, GEOJSON): OGC_FEATURE,
            400: OpenApiResponse(OGC_EXCEPTION, "an unsupported crs"),
            **answers(401),
            404: NOT_FOUND,
        },
    )
    def get(self, request, collection: str, fid: str):
        collection = collection_or_404(collection)
        if isinstance(collection, LayerCollection):
            pk = FeatureDetailView()._get(request, collection.layer, fid).pk
        else:
            lookup = collection.lookup(fid)
            found = collection.scoped(request.user).filter(**lookup).values_list("pk", flat=True) if lookup else []
            if not found:
                raise NotFound("no such feature in your scope")
            pk = found[0]
        try:
            srid = queries.crs_srid(request.query_params.get("crs"))
        except queries.QueryError as exc:
            return _bad(exc)
        row = collection.rows(collection.model.objects.filter(pk=pk), srid).get()
        data = json.loads(collection.feature_json(row))
        data["links"] = [
            {"href": request.build_absolute_uri(), "rel": "self", "type": "application/geo+json"},
            {
                "href": request.build_absolute_uri(f"/ogc/collections/{collection.key}"),
                "rel": "collection",
                "type": "application/json",
            },
        ]
        response = geojson_response(json.dumps(data, ensure_ascii=False))
        response["Content-Crs"] = f"<{request.query_params.get('crs') or CRS84}>"
        return response
