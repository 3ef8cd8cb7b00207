"""Mapbox vector tiles straight from PostGIS (ST_AsMVT), scoped by role, cached per layer version and scope."""

import hashlib
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.core.cache import caches
from django.db import connection
from django.http import Http404, HttpResponse, HttpResponseNotModified
from django.utils.cache import patch_vary_headers
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import NotAuthenticated, ValidationError
from rest_framework.response import Response

from gis_app.carehomes.models import Role
from gis_app.carehomes.scope import role_of, visible_carehomes
from gis_app.lib.api import answers, path, query

from . import tickets, versions
from .api import layer_or_404
from .catalogue import Layer
from .openapi import LAYER
from .tickets import Ticket, TileTicketAuthentication
from .views_base import GisAPIView

MAX_FEATURES = 10_000
CACHE_SECONDS = 300
CONTENT_TYPE = "application/vnd.mapbox-vector-tile"
tile_cache = caches["tiles"]


def _scope_key(user) -> tuple[str, list[int] | None]:
    role = role_of(user)
    if role in (Role.BUREAU, Role.FIRE_RESCUE):
        return "all", None
    ids = sorted(visible_carehomes(user).values_list("pk", flat=True))
    return "h" + hashlib.md5(",".join(map(str, ids)).encode()).hexdigest()[:12], ids


# What a tile's features carry besides their id and home: the catalogue's short fields, by their MVT value type.
TILE_KINDS = {"choice": "String", "text": "String", "int": "Number", "bool": "Boolean"}


def tile_fields(layer: Layer) -> dict[str, str]:
    fields = {"id": "String", "care_home": "Number"}
    fields.update(
        {f.name: TILE_KINDS[f.kind] for f in layer.fields if f.kind in TILE_KINDS and f.name != "description"}
    )
    return fields


def tile_sql(layer: Layer, scoped: bool) -> str:
    model = layer.get_model()
    table, geom = model._meta.db_table, layer.geometry_field
    columns = list(tile_fields(layer))[2:]
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
    return render_versioned(layer, z, x, y, homes)[0]


def render_versioned(layer: Layer, z: int, x: int, y: int, homes: list[int] | None) -> tuple[bytes, int]:
    """The tile and the layer's version it shows, read in one statement (one snapshot: the version is that of the
    data drawn, never of a later commit)."""
    params: list = [z, x, y, z, x, y] + ([homes] if homes is not None else []) + [layer.key, layer.key]
    sql = f"SELECT ({tile_sql(layer, homes is not None)}), ({versions.CURRENT_SQL})"
    with connection.cursor() as cur:
        cur.execute(sql, params)
        data, version = cur.fetchone()
    return bytes(data or b""), version or 0


@dataclass(frozen=True)
class Answer:
    data: bytes
    etag: str
    stale: bool  # a version was asked for that is no longer current: this is the current tile, not to be kept
    queried: bool  # the database was asked (the version, or the tile drawn)


def _key(layer: Layer, version: int, scope: str, z: int, x: int, y: int) -> str:
    return f"tile:{layer.key}:{version}:{scope}:{z}/{x}/{y}"


def serve(layer: Layer, z: int, x: int, y: int, requested: int | None, scope: str, homes) -> Answer:
    """A tile from the cache, or drawn and kept. `homes()` gives (scope, homes) when the tile must be drawn. A version
    asked for (`requested`) finds its tile without a query; drawn, the tile is kept only under the version it shows,
    so a version asked for before it exists can never be filled with older data."""
    version = requested if requested is not None else versions.current(layer)
    cached = tile_cache.get(_key(layer, version, scope, z, x, y))
    if cached is not None:
        return Answer(*cached, stale=False, queried=requested is None)
    scope, ids = homes()
    data, current = render_versioned(layer, z, x, y, ids)
    etag = '"' + hashlib.md5(data).hexdigest() + '"'
    stale = requested is not None and requested != current
    if not stale:
        tile_cache.set(_key(layer, current, scope, z, x, y), (data, etag), CACHE_SECONDS)
    return Answer(data, etag, stale, queried=True)


def scope_homes(scope: str) -> list[int] | None | bool:
    """The homes of a scope if this process knows them (None: every home); False if it does not. A scope's key is
    the digest of its homes, so what a process remembers under it is never wrong."""
    if scope == "all":
        return None
    homes = tile_cache.get(f"tile-scope:{scope}")
    return False if homes is None else homes


def _remember_scope(user) -> tuple[str, list[int] | None]:
    scope, homes = _scope_key(user)
    if homes is not None:
        tile_cache.set(f"tile-scope:{scope}", homes, CACHE_SECONDS)
    return scope, homes


def _ticket_homes(scope: str, user_id: int) -> tuple[str, list[int] | None]:
    """A ticket's scope: remembered, or read again from the user (a ticket another process issued)."""
    homes = scope_homes(scope)
    if homes is not False:
        return scope, homes
    user = get_user_model()._default_manager.select_related("profile").filter(pk=user_id, is_active=True).first()
    if user is None:
        raise NotAuthenticated("该账号已停用或不存在")
    return _remember_scope(user)


def requested_version(value: str | None) -> int | None:
    if value is None:
        return None
    if not value.isascii() or not value.isdigit() or len(value) > 18:
        raise ValidationError(
            {"v": f"must be a layer version (a whole number ≥ 0, as TileJSON gives it), not {value!r}"}
        )
    return int(value)


def answer_headers(answer: Answer) -> dict[str, str]:
    return {
        "Cache-Control": "no-cache" if answer.stale else f"private, max-age={CACHE_SECONDS}",
        "ETag": answer.etag,
    }


class TileView(GisAPIView):
    """Tiles are cached per process under (layer, version, scope, z/x/y): a key names its content, so no process ever
    needs to hear of another's cache. A request with `?v=` (the URLs TileJSON hands out) and a tile ticket finds a
    cached tile without a single query; without `v`, the layer's version is read first (one indexed row). Requests
    with a ticket are mostly served before Django (layers/fast.py), by the same `serve`."""

    authentication_classes = [TileTicketAuthentication, *GisAPIView.authentication_classes]

    @extend_schema(
        operation_id="layer_tile",
        description=(
            "A Mapbox vector tile (EPSG:3857 tile grid) of one layer, features in your scope only. With `v` (as the "
            "layer's TileJSON gives it) the tile of that version is served from the cache when it is there; a `v` "
            "that is no longer current is answered with the current tile, not cached (`Cache-Control: no-cache`). "
            "An answer to a session or token sets a tile ticket (cookie `tiles`) for the next requests."
        ),
        parameters=[
            LAYER,
            path("z", "zoom, 0 to 22", int, minimum=0, maximum=22),
            path("x", "column, 0 to 2^z - 1", int, minimum=0),
            path("y", "row, 0 to 2^z - 1", int, minimum=0),
            query("v", "the layer's version, from the layer's TileJSON", type=int, minimum=0),
        ],
        responses={
            (200, "application/vnd.mapbox-vector-tile"): OpenApiTypes.BINARY,
            304: OpenApiResponse(None, "unchanged since the ETag sent in If-None-Match"),
            **answers(400, 401),
            404: OpenApiResponse(None, "no such layer, or a tile outside the grid"),
        },
    )
    def get(self, request, layer: str, z: int, x: int, y: int):
        spec = layer_or_404(layer)
        if not (0 <= z <= 22 and 0 <= x < 2**z and 0 <= y < 2**z):
            raise Http404("tile out of range")
        requested = requested_version(request.GET.get("v"))
        ticket = request.auth if isinstance(request.auth, Ticket) else None
        if ticket is not None:
            scope = ticket.scope
            answer = serve(spec, z, x, y, requested, scope, lambda: _ticket_homes(ticket.scope, ticket.user_id))
        else:
            scope, homes = _remember_scope(request.user)
            answer = serve(spec, z, x, y, requested, scope, lambda: (scope, homes))
        if request.headers.get("If-None-Match") == answer.etag:
            response = HttpResponseNotModified()
        else:
            response = HttpResponse(answer.data, content_type=CONTENT_TYPE)
        for name, value in answer_headers(answer).items():
            response[name] = value
        # The same URL shows each user their own scope: a browser's cache must not hand one user's tile to the next.
        patch_vary_headers(response, ["Cookie", "Authorization"])
        if ticket is None:
            tickets.issue(response, request, request.user.pk, scope)
        return response


class VectorLayerSerializer(serializers.Serializer):
    id = serializers.CharField(help_text="the layer's key, the MVT layer's name")
    description = serializers.CharField()
    fields = serializers.DictField(child=serializers.CharField(), help_text="attribute: String, Number or Boolean")
    minzoom = serializers.IntegerField()
    maxzoom = serializers.IntegerField()


class TileJSONSerializer(serializers.Serializer):
    tilejson = serializers.CharField(help_text="3.0.0")
    name = serializers.CharField()
    scheme = serializers.CharField(help_text="xyz")
    tiles = serializers.ListField(child=serializers.CharField(), help_text="the URL template, with the version")
    minzoom = serializers.IntegerField()
    maxzoom = serializers.IntegerField()
    vector_layers = VectorLayerSerializer(many=True)


class TileJSONView(GisAPIView):
    """TileJSON 3.0.0 of a layer: its tile URL carries the layer's current version (`?v=`), so a map that reads it
    again when it redraws never shows an older tile, and its tiles are found in the cache without a query."""

    @extend_schema(
        operation_id="layer_tilejson",
        description="TileJSON 3.0.0 of one layer; the tile URL names the layer's current version.",
        parameters=[LAYER],
        responses={200: TileJSONSerializer, **answers(401), 404: OpenApiResponse(None, "no such layer")},
    )
    def get(self, request, layer: str):
        spec = layer_or_404(layer)
        base = f"{request.scheme}://{request.get_host()}/tiles/{spec.key}/"
        data = {
            "tilejson": "3.0.0",
            "name": spec.title,
            "scheme": "xyz",
            "tiles": [base + "{z}/{x}/{y}.pbf?v=" + str(versions.current(spec))],
            "minzoom": 0,
            "maxzoom": 22,
            "vector_layers": [
                {"id": spec.key, "description": spec.title, "fields": tile_fields(spec), "minzoom": 0, "maxzoom": 22}
            ],
        }
        response = Response(TileJSONSerializer(data).data)
        response["Cache-Control"] = "no-cache"
        return response
