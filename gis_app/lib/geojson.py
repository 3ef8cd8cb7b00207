"""GeoJSON geometry from users, checked in Python before any geometry library sees it.

Only RFC 7946 geometry objects are accepted (a WKT string or a Feature where a geometry belongs is refused), every
coordinate is a finite number, the vertex count is capped while walking (a 200,000-vertex polygon is refused before it
is built), and a `crs` member is refused unless it names WGS84: a user's SRS definition never reaches GDAL (gis.W001).
The geometry is built by shapely from the checked structure, so error texts are ours (Chinese), never OGR's or GEOS's.
"""

import math

import shapely
from django.contrib.gis.geos import GEOSGeometry

from .srid import WGS84

# Nesting depth of `coordinates` per type: a position is depth 0.
DEPTH = {"Point": 0, "LineString": 1, "MultiPoint": 1, "Polygon": 2, "MultiLineString": 2, "MultiPolygon": 3}
WGS84_NAMES = {
    "urn:ogc:def:crs:OGC:1.3:CRS84",
    "urn:ogc:def:crs:OGC::CRS84",
    "http://www.opengis.net/def/crs/OGC/1.3/CRS84",
    "urn:ogc:def:crs:EPSG::4326",
    "EPSG:4326",
}


class GeoJSONError(ValueError):
    """A precise reason, in Chinese, naming where in the object the problem is."""


def _positions(value, depth: int, where: str, budget: list[int]) -> None:
    if not isinstance(value, list):
        raise GeoJSONError(f"{where} 应为数组")
    if depth == 0:
        if len(value) not in (2, 3):
            raise GeoJSONError(f"{where} 应为 [经度, 纬度]（可带高程）")
        for i, number in enumerate(value):
            if isinstance(number, bool) or not isinstance(number, int | float) or not math.isfinite(number):
                raise GeoJSONError(f"{where}[{i}] 应为有限的数字")
        budget[0] -= 1
        if budget[0] < 0:
            raise GeoJSONError(f"顶点超过上限 {budget[1]}：请简化后再提交")
        return
    for i, item in enumerate(value):
        _positions(item, depth - 1, f"{where}[{i}]", budget)


def check(value, max_vertices: int) -> dict:
    """The geometry object, checked; raises GeoJSONError."""
    if isinstance(value, str):
        raise GeoJSONError(
            '应为 GeoJSON 几何对象（如 {"type": "Point", "coordinates": [117.7, 39.0]}），不接受文本（WKT）'
        )
    if not isinstance(value, dict):
        raise GeoJSONError("应为 GeoJSON 几何对象")
    kind = value.get("type")
    if kind not in DEPTH:
        raise GeoJSONError(f"type 应为 {'、'.join(DEPTH)} 之一，实际为 {str(kind)[:40]!r}")
    crs = value.get("crs")
    if crs is not None:
        name = crs.get("properties", {}).get("name") if isinstance(crs, dict) else None
        if not isinstance(crs.get("properties") if isinstance(crs, dict) else None, dict) or name not in WGS84_NAMES:
            raise GeoJSONError("坐标须为 WGS84 经纬度（EPSG:4326 / CRS84），不接受其他坐标参考系")
    _positions(value.get("coordinates"), DEPTH[kind], "coordinates", [max_vertices, max_vertices])
    return value


def to_geos(value, max_vertices: int) -> GEOSGeometry:
    """A GEOS geometry in WGS84 (height dropped) from a checked GeoJSON geometry object."""
    data = check(value, max_vertices)
    try:
        shape = shapely.geometry.shape({"type": data["type"], "coordinates": data["coordinates"]})
    except (ValueError, TypeError, IndexError, shapely.errors.ShapelyError) as exc:
        raise GeoJSONError(_structure_reason(data["type"], exc)) from None
    if shape.has_z:
        shape = shapely.force_2d(shape)
    return GEOSGeometry(memoryview(shapely.to_wkb(shape)), srid=WGS84)


def _structure_reason(kind: str, exc: Exception) -> str:
    text = str(exc)
    if "linearring" in text.lower():
        return "多边形的每个环至少需要 4 个坐标，且首尾相同"
    if "point array" in text:
        return "线至少需要 2 个坐标"
    if "inhomogeneous" in text:
        return "坐标的维数应一致（都为 [经度, 纬度] 或都带高程）"
    return f"{kind} 的坐标结构不正确"
