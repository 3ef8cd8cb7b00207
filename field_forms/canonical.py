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


def geometries(shapes) -> list[str | None]:
    """The canonical text of many shapely geometries in one vectorised pass (None stays None)."""
    return shapely.to_wkt(shapely.normalize(shapely.set_precision(list(shapes), 1e-7)), rounding_precision=-1).tolist()


def geometry(text: str | None) -> str | None:
    if not text:
        return None
    return geometries([shapely_wkt.loads(text)])[0]


def canonical(attributes: dict, wkt: str | None) -> dict:
    return _body(attributes, geometry(wkt))


def _body(attributes: dict, canonical_geometry: str | None) -> dict:
    return {"a": {k: value(v) for k, v in sorted(attributes.items()) if k not in IGNORED}, "g": canonical_geometry}


def _hash(layer: str, body: dict) -> str:
    return hashlib.sha256(json.dumps([layer, body], sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def digest(layer: str, attributes: dict, wkt: str | None) -> str:
    return _hash(layer, canonical(attributes, wkt))


def digests(layer: str, items: list[tuple[dict, object]]) -> list[str]:
    """digest() of many (attributes, shapely geometry or None) at once: the same text as from their WKT."""
    texts = geometries([shape for _, shape in items])
    return [_hash(layer, _body(attributes, text)) for (attributes, _), text in zip(items, texts, strict=True)]
