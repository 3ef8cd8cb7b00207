"""The layers' OpenAPI schemas, generated from the catalogue like everything else: each layer's feature properties
(as the API writes them and as it takes them), GeoJSON features and collections, the catalogue's own JSON."""

from drf_spectacular.utils import OpenApiResponse

from gis_app.lib.api import CODED_ERRORS, DETAIL, GEOMETRY, NULLABLE_STRING, STRING, component, path, query

from .catalogue import CATALOGUE, Field, Layer

SURVEY = {
    "note": {"type": "string", "maxLength": 2000},
    "surveyed_on": {"type": "string", "format": "date", "nullable": True},
    "surveyed_by": {"type": "string", "maxLength": 50},
}


def field_schema(field: Field) -> dict:
    kinds = {
        "text": {"type": "string"},
        "bool": {"type": "boolean"},
        "int": {"type": "integer"},
        "decimal": {"type": "number"},
        "date": {"type": "string", "format": "date"},
    }
    schema = dict(kinds.get(field.kind, {}))
    if field.values is not None:
        schema = {"type": "string", "enum": field.values.codes}
    if field.min is not None:
        schema["minimum"] = field.min
    if field.max is not None:
        schema["maximum"] = field.max
    schema["description"] = field.label + (f"（{field.unit}）" if field.unit else "")
    schema["nullable"] = True
    return schema


def properties_out(layer: Layer) -> dict:
    props = {"care_home": {"type": "integer"}, "care_home_name": STRING}
    for f in layer.fields:
        props[f.name] = field_schema(f)
        if f.values is not None:
            props[f"{f.name}_label"] = {"type": "string", "description": f"{f.label}（中文）"}
    if layer.owned_here:
        props.update(SURVEY)
        props["updated_at"] = {"type": "string", "format": "date-time", "description": "the version (ETag)"}
    required = [name for name in props if not name.endswith("_label")]
    props["layer"] = {"type": "string", "enum": [layer.key], "description": "in a care home's file of every layer"}
    return {
        "type": "object",
        "title": layer.title,
        "properties": props,
        "required": required,
        "additionalProperties": False,
    }


def properties_in(layer: Layer) -> dict:
    props = {"care_home": {"type": "integer", "description": "the care home's id (POST only; a feature stays with it)"}}
    props.update({f.name: field_schema(f) for f in layer.editable_fields})
    props.update(SURVEY)
    props["updated_at"] = {"type": "string", "format": "date-time", "description": "the version edited from"}
    return {"type": "object", "title": layer.title, "properties": props, "additionalProperties": False}


EDITABLE = [layer for layer in CATALOGUE if layer.owned_here]
LAYER_KEYS = [layer.key for layer in CATALOGUE]

FEATURE = component(
    "LayerFeature",
    {
        "type": "object",
        "description": "A GeoJSON Feature of one layer; `id` is the feature's uuid (its integer id for hazards).",
        "required": ["type", "id", "geometry", "properties"],
        "properties": {
            "type": {"type": "string", "enum": ["Feature"]},
            "id": {"oneOf": [{"type": "string", "format": "uuid"}, {"type": "integer"}]},
            "geometry": {**GEOMETRY, "nullable": True},
            "properties": {
                "anyOf": [component(f"{layer.key}_properties", properties_out(layer)) for layer in CATALOGUE]
            },
            "links": {"type": "array", "items": {"type": "object"}},
        },
    },
)

FEATURE_IN = component(
    "LayerFeatureInput",
    {
        "type": "object",
        "description": "A GeoJSON Feature: geometry in WGS84, properties from the layer's fields (see /api/layers/).",
        "properties": {
            "type": {"type": "string", "enum": ["Feature"]},
            "geometry": GEOMETRY,
            "properties": {"anyOf": [component(f"{layer.key}_input", properties_in(layer)) for layer in EDITABLE]},
        },
        "required": ["geometry", "properties"],
    },
)

LINK = {
    "type": "object",
    "required": ["href", "rel"],
    "properties": {"href": STRING, "rel": STRING, "type": STRING, "title": STRING},
}

COLLECTION = component(
    "LayerFeatureCollection",
    {
        "type": "object",
        "required": ["type", "features"],
        "properties": {
            "type": {"type": "string", "enum": ["FeatureCollection"]},
            "features": {"type": "array", "items": FEATURE},
            "count": {"type": "integer", "description": "all matching features (page paging only)"},
            "next": {"type": "string", "format": "uri", "description": "the next page (keyset: `after`)"},
            "previous": {"type": "string", "format": "uri"},
            "name": STRING,
            "numberMatched": {"type": "integer"},
            "numberReturned": {"type": "integer"},
            "timeStamp": {"type": "string", "format": "date-time"},
            "links": {"type": "array", "items": LINK},
        },
    },
)

STALE = component(
    "StaleFeature",
    {
        "type": "object",
        "description": "409: the feature changed since the version edited from; `current` is it now, to re-apply onto.",
        "required": ["code", "errors", "current"],
        "properties": {"code": {"type": "string", "enum": ["stale"]}, "errors": {"type": "object"}, "current": FEATURE},
    },
)

DUPLICATE = component(
    "DuplicateFeature",
    {
        "type": "object",
        "description": "409 (only with check_duplicates=true): the new feature probably repeats `duplicate_of`;"
        " post again without the parameter to store it anyway.",
        "required": ["code", "errors", "duplicate_of"],
        "properties": {
            "code": {"type": "string", "enum": ["duplicate"]},
            "errors": {"type": "object"},
            "duplicate_of": {
                "type": "object",
                "required": ["id", "distance_m", "text"],
                "properties": {
                    "id": {"type": "integer", "description": "the existing feature's id"},
                    "distance_m": {"type": "number", "description": "metres apart (points) or differing (lines)"},
                    "overlap": {"type": "number", "nullable": True, "description": "share of the smaller area"},
                    "text": STRING,
                },
            },
        },
    },
)

FIELD_INFO = {
    "type": "object",
    "required": ["name", "label", "kind", "required"],
    "properties": {
        "name": STRING,
        "label": STRING,
        "kind": {"type": "string", "enum": ["text", "choice", "bool", "int", "decimal", "date", "computed"]},
        "required": {"type": "boolean"},
        "unit": STRING,
        "help": STRING,
        "min": {"type": "number", "nullable": True},
        "max": {"type": "number", "nullable": True},
        "values": {"type": "array", "nullable": True, "items": {"type": "array", "items": STRING}},
    },
}

CATALOGUE_SCHEMA = component(
    "LayerCatalogue",
    {
        "type": "array",
        "items": {
            "type": "object",
            "required": ["key", "title", "geometry", "editable", "fields"],
            "properties": {
                "key": {"type": "string", "enum": LAYER_KEYS},
                "title": STRING,
                "geometry": {"type": "array", "items": STRING},
                "editable": {"type": "boolean", "description": "whether your role may edit this layer"},
                "status_field": NULLABLE_STRING,
                "problem_values": {"type": "array", "items": STRING},
                "problem_flags": {
                    "type": "array",
                    "items": STRING,
                    "description": "yes/no fields whose 否 (false) is a problem (drawn in red like problem values)",
                },
                "style": {"type": "object"},
                "fields": {"type": "array", "items": FIELD_INFO},
            },
        },
    },
)

LAYER = path("layer", "the layer's key (see /api/layers/)", enum=LAYER_KEYS)
FILTERS = [
    query("datetime", "features changed at this instant or in this interval (start/end, '..' for an open end)"),
    query("care_home", "only this care home's features (its id)", pattern=r"^[0-9]+$"),
    query("subdistrict", "only features of homes in this 街镇 (its code)"),
    query("status", "only features with this status (layers with a status field; see /api/layers/)"),
]
GEOJSON = "application/geo+json"
FEATURE_BODY = {"application/json": FEATURE_IN, GEOJSON: FEATURE_IN}


LAYER_ERRORS = {
    400: OpenApiResponse({"oneOf": [CODED_ERRORS, DETAIL]}, "invalid input, each problem named (or a body not JSON)"),
    403: OpenApiResponse(CODED_ERRORS, "your role may not edit this layer or this home"),
}
NOT_FOUND = OpenApiResponse(DETAIL, "no such layer, or no such feature in your scope")
