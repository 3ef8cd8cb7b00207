"""Mapbox vector tiles straight from PostGIS (ST_AsMVT), scoped by role, cached per layer version and scope."""

import hashlib

from django.core.cache import cache
from django.db import connection
from django.http import Http404, HttpResponse, HttpResponseNotModified
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema

from gis_app.carehomes.models import Role
from gis_app.carehomes.scope import role_of, visible_carehomes
from gis_app.lib.api import answers, path

from . import versions
from .api import layer_or_404
from .catalogue import Layer
from .openapi import LAYER
from .views_base import GisAPIView

MAX_FEATURES = 10_000
CACHE_SECONDS = 300


def _scope_key(user) -> tuple[str, list[int] | None]:
    role = role_of(user)
    if role in (Role.BUREAU, Role.FIRE_RESCUE):
        return "all", None
    ids = sorted(visible_carehomes(user).values_list("pk", flat=True))
    return "h" + hashlib.md5(",".join(map(str, ids)).encode()).hexdigest()[:12], ids


def tile_sql(layer: Layer, scoped: bool) -> str:
    model = layer.get_model()
    table, geom = model._meta.db_table, layer.geometry_field
    columns = [f.name for f in layer.fields if f.kind in ("choice", "bool", "int", "text") and f.name != "description"]
    ident = "t.uuid::text" if layer.owned_here else "t.id::text"
    select = ", ".join([f"{ident} AS id", "t.care_home_id AS care_home"] + [f"t.{c}" for c in columns])
    where = f"t.{geom} && ST_Transform(ST_TileEnvelope(%s, %s, %s), 4326)"
    if scoped:
        where += " AND t.care_home_id = ANY(%s)"
    # The envelope is transformed once to 4326 so the GiST index on the stored geometry is used.
    sql = f"""
        WITH mvt AS (
            SELECT ST_AsMVTGeom(ST_Transform(t.{geom}, 3857), ST_TileEnvelope(%s, %s, %s), 4096, 64, true) AS geom, {select}
            FROM {table} t WHERE {where} LIMIT {MAX_FEATURES}
        )
        SELECT ST_AsMVT(mvt, %s, 4096, 'geom') FROM mvt
    """
    return sql


def render_tile(layer: Layer, z: int, x: int, y: int, homes: list[int] | None) -> bytes:
    params: list = [z, x, y, z, x, y] + ([homes] if homes is not None else []) + [layer.key]
    with connection.cursor() as cur:
        cur.execute(tile_sql(layer, homes is not None), params)
        return bytes(cur.fetchone()[0] or b"")


class TileView(GisAPIView):
    @extend_schema(
        operation_id="layer_tile",
        description="A Mapbox vector tile (EPSG:3857 tile grid) of one layer, features in your scope only.",
        parameters=[
            LAYER,
            path("z", "zoom, 0 to 22", int, minimum=0, maximum=22),
            path("x", "column, 0 to 2^z - 1", int, minimum=0),
            path("y", "row, 0 to 2^z - 1", int, minimum=0),
        ],
        responses={
            (200, "application/vnd.mapbox-vector-tile"): OpenApiTypes.BINARY,
            304: OpenApiResponse(None, "unchanged since the ETag sent in If-None-Match"),
            **answers(401),
            404: OpenApiResponse(None, "no such layer, or a tile outside the grid"),
        },
    )
    def get(self, request, layer: str, z: int, x: int, y: int):
        spec = layer_or_404(layer)
        if not (0 <= z <= 22 and 0 <= x < 2**z and 0 <= y < 2**z):
            raise Http404("tile out of range")
        scope, homes = _scope_key(request.user)
        key = f"tile:{spec.key}:{versions.current(spec)}:{scope}:{z}/{x}/{y}"
        data = cache.get(key)
        if data is None:
            data = render_tile(spec, z, x, y, homes)
            cache.set(key, data, CACHE_SECONDS)
        etag = '"' + hashlib.md5(data).hexdigest() + '"'
        if request.headers.get("If-None-Match") == etag:
            return HttpResponseNotModified()
        response = HttpResponse(data, content_type="application/vnd.mapbox-vector-tile")
        response["Cache-Control"] = f"private, max-age={CACHE_SECONDS}"
        response["ETag"] = etag
        return response
