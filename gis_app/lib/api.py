"""OpenAPI for the API views: shared schemas (GeoJSON, error bodies) and the answers every endpoint can give, so that
/api/schema/ says what each operation takes and returns, and Schemathesis can hold the server to it.

Raw schemas are registered as components here (`component()`) and added to the document by `add_components`, a
drf-spectacular postprocessing hook (settings.SPECTACULAR_SETTINGS)."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse

COMPONENTS: dict[str, dict] = {}


def component(name: str, schema: dict) -> dict:
    """Registers a raw JSON schema under components/schemas and returns a reference to it."""
    COMPONENTS[name] = schema
    return {"$ref": f"#/components/schemas/{name}"}


def add_components(result, generator, request, public):
    result.setdefault("components", {}).setdefault("schemas", {}).update(COMPONENTS)
    return result


STRING = {"type": "string"}
NULLABLE_STRING = {"type": "string", "nullable": True}

GEOMETRY = component(
    "Geometry",
    {
        "type": "object",
        "description": "A GeoJSON geometry (RFC 7946) in WGS84 longitude/latitude.",
        "required": ["type", "coordinates"],
        "properties": {
            "type": {
                "type": "string",
                "enum": ["Point", "LineString", "Polygon", "MultiPoint", "MultiLineString", "MultiPolygon"],
            },
            "coordinates": {"type": "array", "items": {}},
        },
    },
)

DETAIL = component(
    "Detail",
    {
        "type": "object",
        "description": "DRF's error body: not signed in (401), not allowed (403), not found (404).",
        "required": ["detail"],
        "properties": {"detail": STRING},
    },
)

FIELD_ERRORS = component(
    "FieldErrors",
    {
        "type": "object",
        "description": "400: each refused field (or query parameter) named with its reason(s).",
        "additionalProperties": {"oneOf": [STRING, {"type": "array", "items": {}}, {"type": "object"}]},
    },
)

CODED_ERRORS = component(
    "CodedErrors",
    {
        "type": "object",
        "description": "A refusal with a stable code and each refused field named with its reason.",
        "required": ["errors"],
        "properties": {
            "code": STRING,
            "errors": {"type": "object", "additionalProperties": {"oneOf": [STRING, {"type": "array"}]}},
        },
    },
)

CODED_DETAIL = component(
    "CodedDetail",
    {
        "type": "object",
        "description": "A refusal with a stable code and a sentence saying why.",
        "required": ["code", "detail"],
        "properties": {"code": STRING, "detail": STRING},
    },
)


def answers(*codes: int, bad: dict | None = None) -> dict:
    """The error answers an operation gives, by status code: 400 with `bad` (FieldErrors unless named), 401 when
    not signed in, 403, 404 with DRF's detail."""
    described = {
        400: OpenApiResponse(bad or FIELD_ERRORS, "invalid input, each problem named"),
        401: OpenApiResponse(DETAIL, "not signed in: a session, `Authorization: Token <key>` or Basic with a token"),
        403: OpenApiResponse(DETAIL, "signed in, but this role may not do it"),
        404: OpenApiResponse(DETAIL, "no such object in your scope"),
    }
    return {code: described[code] for code in codes}


def _typed(type, bounds: dict):
    """An integer parameter with bounds is a raw schema (OpenApiParameter takes no minimum/maximum)."""
    if not bounds:
        return type
    return {"type": "integer" if type is int else "number", **bounds}


def query(name: str, description: str, type=OpenApiTypes.STR, minimum=None, maximum=None, **kw) -> OpenApiParameter:
    bounds = {k: v for k, v in (("minimum", minimum), ("maximum", maximum)) if v is not None}
    return OpenApiParameter(name, _typed(type, bounds), OpenApiParameter.QUERY, description=description, **kw)


def path(name: str, description: str, type=OpenApiTypes.STR, minimum=None, maximum=None, **kw) -> OpenApiParameter:
    bounds = {k: v for k, v in (("minimum", minimum), ("maximum", maximum)) if v is not None}
    return OpenApiParameter(name, _typed(type, bounds), OpenApiParameter.PATH, description=description, **kw)


def header(name: str, description: str, **kwargs) -> OpenApiParameter:
    return OpenApiParameter(name, OpenApiTypes.STR, OpenApiParameter.HEADER, description=description, **kwargs)


BBOX = query(
    "bbox",
    "minLon,minLat,maxLon,maxLat (WGS84): only what intersects this box",
    pattern=r"^-?[0-9.]+,-?[0-9.]+,-?[0-9.]+,-?[0-9.]+$",
)
