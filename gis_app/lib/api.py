"""OpenAPI for hand-written API views (GeoJSON, OGC, tiles): described as JSON objects with a unique operation id,
so the schema at /api/schema/ lists every endpoint without guessing serializers."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema

METHODS = ("get", "post", "put", "patch", "delete")


def documented(cls):
    binary = getattr(cls, "binary_response", None)
    for method in METHODS:
        func = cls.__dict__.get(method)
        if func is None:
            continue
        setattr(
            cls,
            method,
            extend_schema(
                operation_id=f"{cls.__module__.rsplit('.', 1)[-1]}_{cls.__name__}_{method}",
                request=OpenApiTypes.OBJECT if method in ("post", "put", "patch") else None,
                responses={200: binary or OpenApiTypes.OBJECT, 201: OpenApiTypes.OBJECT, 204: None},
                description=(cls.__doc__ or "").strip(),
            )(func),
        )
    return cls
