"""Reading layers: scoped querysets and fast GeoJSON (geometry serialised by PostGIS, never parsed in Python)."""

import json
from datetime import datetime, time, timedelta

from django.contrib.gis.db.models import GeometryField
from django.contrib.gis.db.models.functions import AsGeoJSON, Transform
from django.contrib.gis.geos import Polygon
from django.db.models import Func
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from gis_app.carehomes.models import Role
from gis_app.carehomes.scope import role_of, visible_carehomes
from gis_app.lib.srid import WGS84

from .catalogue import Layer


class QueryError(ValueError):
    """A bad filter: `param` names it, the message says what was expected."""

    def __init__(self, param: str, message: str):
        super().__init__(message)
        self.param = param


def scoped(layer: Layer, user):
    objects = layer.get_model().objects
    if role_of(user) in (Role.BUREAU, Role.FIRE_RESCUE):
        return objects.all()  # district-wide roles: no semi-join against every home (it costs 4x on big tables)
    return objects.filter(care_home__in=visible_carehomes(user))


CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
CGCS2000 = "http://www.opengis.net/def/crs/EPSG/0/4490"
CGCS2000_SRID = 4490
CRS_SRID = {CRS84: None, CGCS2000: CGCS2000_SRID}


def crs_srid(value: str | None, param: str = "crs") -> int | None:
    """None for CRS84 (the default, longitude first), 4490 for CGCS2000; anything else is refused."""
    if not value:
        return None
    if value not in CRS_SRID:
        raise QueryError(param, f"supported: {CRS84} (default), {CGCS2000}")
    return CRS_SRID[value]


def parse_bbox(raw: str, srid: int | None = None) -> Polygon:
    """minLon,minLat,maxLon,maxLat in CRS84; in CGCS2000 (srid 4490) its own axis order, minLat,minLon,maxLat,maxLon."""
    try:
        minx, miny, maxx, maxy = (float(p) for p in raw.split(","))
        if srid == CGCS2000_SRID:
            minx, miny, maxx, maxy = miny, minx, maxy, maxx
    except ValueError:
        raise QueryError("bbox", "expected four numbers: minLon,minLat,maxLon,maxLat") from None
    if not (-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
        raise QueryError("bbox", "need -180<=minLon<=maxLon<=180 and -90<=minLat<=maxLat<=90")
    box = Polygon.from_bbox((minx, miny, maxx, maxy))
    box.srid = WGS84
    return box


def _instant(text: str, end: bool):
    """An RFC 3339 date-time, or a date (the whole day: its start, or the next day's start for an interval's end)."""
    if "T" not in text.upper():
        day = parse_date(text)
        if day is None:
            raise ValueError
        # a date is a day of the platform's time zone (Asia/Shanghai)
        return timezone.make_aware(datetime.combine(day + timedelta(days=1) if end else day, time.min))
    when = parse_datetime(text)
    if when is None or timezone.is_naive(when):
        raise ValueError
    return when


def parse_datetime_filter(raw: str) -> tuple[datetime | None, datetime | None, bool]:
    """OGC API `datetime`: an instant, or an interval `start/end` with `..` (or nothing) for an open end.
    Returns (start, end, end_exclusive)."""
    try:
        if "/" not in raw:
            start = _instant(raw, end=False)
            if "T" in raw.upper():
                return start, start, False
            return start, _instant(raw, end=True), True
        first, _, last = raw.partition("/")
        start = None if first in ("", "..") else _instant(first, end=False)
        end = None if last in ("", "..") else _instant(last, end=True)
        if start is None and end is None or (start and end and start > end):
            raise ValueError
        return start, end, end is not None and "T" not in last.upper()
    except (ValueError, OverflowError):
        raise QueryError(
            "datetime",
            "expected an RFC 3339 date-time with time zone or a date, or an interval start/end "
            "(either end may be '..'), e.g. 2026-11-01/2026-11-30",
        ) from None


def when_and_where(qs, params, geometry_field: str):
    """OGC `datetime` (on the row's version time, updated_at: what changed in a period) and `bbox` (in `bbox-crs`)."""
    if params.get("datetime"):
        start, end, exclusive = parse_datetime_filter(params["datetime"])
        if start is not None:
            qs = qs.filter(updated_at__gte=start)
        if end is not None:
            qs = qs.filter(**{"updated_at__lt" if exclusive else "updated_at__lte": end})
    if params.get("bbox"):
        box = parse_bbox(params["bbox"], crs_srid(params.get("bbox-crs"), "bbox-crs"))
        qs = qs.filter(**{f"{geometry_field}__intersects": box})
    return qs


def filtered(layer: Layer, qs, params):
    qs = when_and_where(qs, params, layer.geometry_field)
    if params.get("care_home"):
        if not str(params["care_home"]).isdigit():
            raise QueryError("care_home", "expected a care home id")
        qs = qs.filter(care_home_id=int(params["care_home"]))
    if params.get("subdistrict"):
        qs = qs.filter(care_home__subdistrict__code=params["subdistrict"])
    if params.get("status"):
        if not layer.status_field:
            raise QueryError("status", f"layer {layer.key} has no status")
        allowed = layer.field(layer.status_field).values.codes if layer.field(layer.status_field).values else []
        if params["status"] not in allowed:
            raise QueryError("status", f"expected one of {', '.join(allowed)}")
        qs = qs.filter(**{layer.status_field: params["status"]})
    return qs


def property_names(layer: Layer) -> list[str]:
    names = [f.name for f in layer.fields]
    if layer.owned_here:
        names += ["note", "surveyed_on", "surveyed_by", "updated_at"]
    return names


def feature_rows(layer: Layer, qs, srid: int | None = None):
    """Dicts with the properties, `geojson` (text) and identifiers, in a stable order. `srid` 4490 (CGCS2000): the
    geometry in that CRS, in its axis order (latitude, longitude), as OGC API - Features Part 2 asks."""
    names = property_names(layer)
    uuid = "uuid" if layer.owned_here else "id"
    return (
        qs.annotate(geojson=output_geojson(layer.geometry_field, srid))
        .order_by("id")
        .values("id", uuid, "care_home_id", "care_home__name", "geojson", *names)
    )


def output_geojson(geometry_field: str, srid: int | None = None):
    """The geometry as GeoJSON text, serialised by PostGIS; with srid 4490 (CGCS2000) in that CRS's axis order
    (latitude, longitude), as OGC API - Features Part 2 asks."""
    geometry = geometry_field
    if srid == CGCS2000_SRID:
        transformed = Transform(geometry_field, CGCS2000_SRID)
        geometry = Func(transformed, function="ST_FlipCoordinates", output_field=GeometryField(srid=CGCS2000_SRID))
    return AsGeoJSON(geometry, precision=7)


def jsonable(value):
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return float(value) if value.__class__.__name__ == "Decimal" else str(value)


def feature_json(layer: Layer, row: dict) -> str:
    props = {"care_home": row["care_home_id"], "care_home_name": row["care_home__name"]}
    for f in layer.fields:
        props[f.name] = jsonable(row.get(f.name))
        if f.values is not None and row.get(f.name) is not None:
            props[f"{f.name}_label"] = f.values.label(row[f.name])
    for extra in ("note", "surveyed_on", "surveyed_by", "updated_at"):
        if extra in row:
            props[extra] = jsonable(row[extra])
    ident = str(row["uuid"]) if layer.owned_here else row["id"]
    return (
        f'{{"type":"Feature","id":{json.dumps(ident)},"geometry":{row["geojson"] or "null"},'
        f'"properties":{json.dumps(props, ensure_ascii=False)}}}'
    )


def collection_json(layer: Layer, rows, extra: dict | None = None) -> str:
    head = json.dumps({"type": "FeatureCollection", **(extra or {})}, ensure_ascii=False)[:-1]
    return head + ',"features":[' + ",".join(feature_json(layer, r) for r in rows) + "]}"
