"""One canonical form for a feature's attributes and geometry, whether read from PostGIS or from a GeoPackage, so the
two can be compared by digest: numbers rounded, empty text as null, dates as ISO text, geometry at 1e-7 degrees."""

import datetime
import hashlib
import json
from decimal import Decimal

import shapely
from shapely import wkt as shapely_wkt

IGNORED = {"photo", "photo_before"}  # photos travel as files, compared by their own path


def value(v):
    if v is None or (isinstance(v, str) and not v.strip()):
        return None
    if isinstance(v, bool):
        return v
    if isinstance(v, Decimal | float):
        return round(float(v), 6)
    if isinstance(v, datetime.datetime):
        return v.date().isoformat()
    if isinstance(v, datetime.date):
        return v.isoformat()
    if isinstance(v, str):
        return v.strip()
    return v


def geometry(text: str | None) -> str | None:
    if not text:
        return None
    geom = shapely.set_precision(shapely_wkt.loads(text), 1e-7)
    return shapely.normalize(geom).wkt


def canonical(attributes: dict, wkt: str | None) -> dict:
    return {"a": {k: value(v) for k, v in sorted(attributes.items()) if k not in IGNORED}, "g": geometry(wkt)}


def digest(layer: str, attributes: dict, wkt: str | None) -> str:
    body = json.dumps([layer, canonical(attributes, wkt)], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(body.encode()).hexdigest()
