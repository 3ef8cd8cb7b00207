"""Density of hazards for the heatmap and the hexagon grid, computed in PostGIS and scoped to the caller's homes.
A hazard without its own point counts at its care home."""

import math
from datetime import date

from django.db import connection

from gis_app.carehomes.models import Role
from gis_app.carehomes.scope import role_of, visible_carehomes
from gis_app.hazards.models import Category, Severity

from . import heat_cells


class FilterError(ValueError):
    pass


def hazard_filter(user, params) -> tuple[str, list]:
    """WHERE clause (on hazards z joined to homes h) for severity, category, status, month, bbox and the scope."""
    where, args = ["true"], []
    if role_of(user) not in (Role.BUREAU, Role.FIRE_RESCUE):
        where.append("z.care_home_id = ANY(%s)")
        args.append(list(visible_carehomes(user).values_list("pk", flat=True)))
    if params.get("severity"):
        if params["severity"] not in Severity.values:
            raise FilterError(f"severity: expected one of {', '.join(Severity.values)}")
        where.append("z.severity = %s")
        args.append(params["severity"])
    if params.get("category"):
        if params["category"] not in Category.values:
            raise FilterError("category: unknown category")
        where.append("z.category = %s")
        args.append(params["category"])
    if params.get("open") == "1":
        where.append("z.status NOT IN ('closed', 'closed_unfixed')")
    if params.get("month"):
        try:
            first = date.fromisoformat(params["month"] + "-01")
        except ValueError:
            raise FilterError("month: expected YYYY-MM") from None
        where.append("z.found_on >= %s AND z.found_on < (%s::date + interval '1 month')")
        args += [first, first]
    return " AND ".join(where), args


def located_hazards(user, params) -> tuple[str, list]:
    """SQL of (g: the hazard's point, or its home's) for the filtered hazards in the optional bbox. With a bbox, two
    branches each use a spatial index: hazards with their own point, and hazards placed at homes inside the box."""
    where, args = hazard_filter(user, params)
    if not params.get("bbox"):
        sql = (
            "SELECT COALESCE(z.location, h.location) AS g FROM hazards_hazard z JOIN carehomes_carehome h "
            f"ON h.id = z.care_home_id WHERE COALESCE(z.location, h.location) IS NOT NULL AND {where}"
        )
        return sql, args
    try:
        minx, miny, maxx, maxy = (float(v) for v in params["bbox"].split(","))
    except ValueError:
        raise FilterError("bbox: expected minLon,minLat,maxLon,maxLat") from None
    env = [minx, miny, maxx, maxy]
    sql = f"""
        SELECT z.location AS g FROM hazards_hazard z JOIN carehomes_carehome h ON h.id = z.care_home_id
        WHERE z.location && ST_MakeEnvelope(%s, %s, %s, %s, 4326) AND {where}
        UNION ALL
        SELECT h.location AS g FROM carehomes_carehome h JOIN hazards_hazard z ON z.care_home_id = h.id
        WHERE h.location && ST_MakeEnvelope(%s, %s, %s, %s, 4326) AND z.location IS NULL AND {where}
    """
    return sql, [*env, *args, *env, *args]


def _bbox(params) -> tuple[float, float, float, float] | None:
    """The view's box, its longitudes within ±180 (a world view's box reaches past them) and latitudes within ±90."""
    if not params.get("bbox"):
        return None
    try:
        minx, miny, maxx, maxy = (float(v) for v in params["bbox"].split(","))
    except ValueError:
        raise FilterError("bbox: expected minLon,minLat,maxLon,maxLat") from None
    if not all(math.isfinite(v) for v in (minx, miny, maxx, maxy)):
        raise FilterError("bbox: expected four finite numbers (minLon,minLat,maxLon,maxLat)")
    lon, lat = (lambda v: max(-180.0, min(180.0, v))), (lambda v: max(-90.0, min(90.0, v)))
    return lon(minx), lat(miny), lon(maxx), lat(maxy)


def heat_bins(user, params, zoom: int) -> tuple[list[list[float]], int]:
    """[lat, lon, count] per bin; bins are ~1/8 of a 256-px tile at this zoom (45 / 2**zoom degrees, anchored at 0,0),
    so a page gets a few thousand at most. With a bbox, every bin it touches is counted whole (no bin is cut at the
    edge of the view). A whole-district user at heat_cells.STORED_ZOOM or below, without a month, reads the stored
    cell counts (the same numbers, see heat_cells); anyone else's hazards are counted from their points."""
    zoom = max(0, min(zoom, 20))
    size = 45 / 2**zoom
    box = _bbox(params)
    bins = tuple(math.floor(v / size) for v in box) if box else None  # the bins the box touches
    if zoom <= heat_cells.STORED_ZOOM and role_of(user) in (Role.BUREAU, Role.FIRE_RESCUE) and not params.get("month"):
        rows = _stored_bins(user, params, zoom, size, bins)
    else:
        rows = _counted_bins(user, params, size, bins)
    return [[round(a, 6), round(b, 6), int(n)] for a, b, n in rows], int(sum(r[2] for r in rows))


def _counted_bins(user, params, size: float, bins) -> list[tuple]:
    if bins:  # the box widened to the edges of the bins it touches (for the spatial index), then the bins kept
        bx0, by0, bx1, by1 = bins
        # items(): a QueryDict's last value per key ({**querydict} would copy its lists)
        params = {**dict(params.items()), "bbox": f"{bx0 * size},{by0 * size},{(bx1 + 1) * size},{(by1 + 1) * size}"}
    located, args = located_hazards(user, params)
    keep = ""
    if bins:
        keep = "WHERE floor(ST_X(g) / %s) BETWEEN %s AND %s AND floor(ST_Y(g) / %s) BETWEEN %s AND %s"
        args = [*args, size, bins[0], bins[2], size, bins[1], bins[3]]
    sql = f"""
        SELECT (floor(ST_Y(g) / %s) + 0.5) * %s, (floor(ST_X(g) / %s) + 0.5) * %s, count(*)
        FROM ({located}) t {keep} GROUP BY 1, 2
    """
    with connection.cursor() as cur:
        cur.execute(sql, [size, size, size, size, *args])
        return cur.fetchall()


def _stored_filter(user, params, grid: int) -> tuple[list[str], list]:
    """WHERE terms on the stored cells of `grid` for the severity, category and open filters, validated (and refused)
    as the direct count validates them."""
    hazard_filter(user, params)
    where, args = ["grid = %s"], [grid]
    for name in ("severity", "category"):
        if params.get(name):
            where.append(f"{name} = %s")
            args.append(params[name])
    if params.get("open") == "1":
        where.append("open")
    return where, args


def _stored_bins(user, params, zoom: int, size: float, bins) -> list[tuple]:
    shift = int(heat_cells.STORED_ZOOM - zoom)  # a bin at this zoom = the cells whose index >> shift agree
    where, args = _stored_filter(user, params, 0)
    if bins:  # cx >> shift BETWEEN a AND b, written so the index on (grid, cx, cy) serves it
        where.append("cx BETWEEN %s AND %s AND cy BETWEEN %s AND %s")
        args += [bins[0] << shift, ((bins[2] + 1) << shift) - 1, bins[1] << shift, ((bins[3] + 1) << shift) - 1]
    sql = f"""
        SELECT ((cy >> {shift})::float8 + 0.5) * %s::float8, ((cx >> {shift})::float8 + 0.5) * %s::float8, sum(n)
        FROM risk_hazardcell
        WHERE {" AND ".join(where)} GROUP BY cy >> {shift}, cx >> {shift} HAVING sum(n) <> 0
    """
    with connection.cursor() as cur:
        cur.execute(sql, [size, size, *args])
        return cur.fetchall()


# The finest hexagons (500 m) are counted from the hazards in view, ~2 µs each: over a country's million they took
# seconds and megabytes of sub-pixel cells. Above this many in view that grid is refused (the page zooms in; the heat
# data serves it); the coarser grids a bureau sees at lower zoom are stored (heat_cells).
HEX_MAX_HAZARDS = 50_000

RAMP = ["#fff3e0", "#ffcc80", "#ffa726", "#f4511e", "#c62828", "#7f0000"]


def _hex_box(params, edge: float):
    """The view in Web Mercator metres, and the (i, j) ranges of the hexagons that may touch it (for the index)."""
    minx, miny, maxx, maxy = _bbox(params)
    miny, maxy = (max(-heat_cells.MAX_LAT, min(heat_cells.MAX_LAT, v)) for v in (miny, maxy))
    r = heat_cells.MERCATOR_R
    x0, x1 = r * math.radians(minx), r * math.radians(maxx)
    y0, y1 = (r * math.log(math.tan(math.pi / 4 + math.radians(v) / 2)) for v in (miny, maxy))
    w, h = 1.5 * edge, edge * math.sqrt(3)
    ranges = (
        math.floor((x0 - edge) / w) - 1,
        math.ceil((x1 + edge) / w) + 1,
        math.floor(y0 / h) - 2,
        math.ceil(y1 / h) + 2,
    )
    return (x0, y0, x1, y1), ranges


def _touches(edge: float, box) -> tuple[str, list]:
    """SQL keeping a hexagon (i, j) whose bounding box touches the view: one test for stored and counted cells."""
    x0, y0, x1, y1 = box
    sql = """
        1.5::float8 * %s * i + %s >= %s AND 1.5::float8 * %s * i - %s <= %s
        AND %s * sqrt(3::float8) * (j + (i & 1) * 0.5::float8 + 0.5::float8) >= %s
        AND %s * sqrt(3::float8) * (j + (i & 1) * 0.5::float8 - 0.5::float8) <= %s
    """
    return sql, [edge, edge, x0, edge, edge, x1, edge, y0, edge, y1]


def hex_cells(user, params, grid: int = 0) -> str:
    """Hazards counted per hexagon of the grid anchored at Web Mercator's origin with the edge HEX_EDGES[grid], as a
    GeoJSON FeatureCollection of the occupied hexagons the view touches, with the edge as `edge_m`."""
    if _bbox(params) is None:
        raise FilterError("bbox: required for the hexagon grid (minLon,minLat,maxLon,maxLat)")
    edge = heat_cells.HEX_EDGES[grid]
    whole = role_of(user) in (Role.BUREAU, Role.FIRE_RESCUE)
    if whole and grid in heat_cells.STORED_HEX_GRIDS and not params.get("month"):
        cells = _stored_hexes(user, params, grid)
    else:
        if whole:  # a whole country may be in view: count it first, cheaply
            _, in_view = heat_bins(user, params, heat_cells.STORED_ZOOM)  # stored cells (those the box touches)
            if in_view > HEX_MAX_HAZARDS:
                raise FilterError(
                    f"bbox: about {in_view} hazards in view; the hexagon grid is drawn for at most {HEX_MAX_HAZARDS}"
                    " (zoom in, or use the heat data)"
                )
        cells = _counted_hexes(user, params, grid)
    with connection.cursor() as cur:
        cur.execute(
            """
            SELECT ST_AsGeoJSON(ST_Transform(ST_Hexagon(%s, i, j, ST_SetSRID(ST_MakePoint(0, 0), 3857)), 4326), 6), n
            FROM unnest(%s::int[], %s::int[], %s::bigint[]) k (i, j, n)
            """,
            [edge, [c[0] for c in cells], [c[1] for c in cells], [c[2] for c in cells]],
        )
        rows = cur.fetchall()
    top = max((n for _, n in rows), default=1)
    features = [
        f'{{"type":"Feature","geometry":{g},"properties":{{"count":{n},"colour":"{RAMP[min(len(RAMP) - 1, int((len(RAMP) - 1) * n / top))]}"}}}}'
        for g, n in rows
    ]
    return f'{{"type":"FeatureCollection","edge_m":{edge:g},"features":[' + ",".join(features) + "]}"


def _stored_hexes(user, params, grid: int) -> list[tuple[int, int, int]]:
    """(i, j, count) of the hexagons touching the view, from the stored cells of a coarser grid (whole district)."""
    edge = heat_cells.HEX_EDGES[grid]
    box, (i0, i1, j0, j1) = _hex_box(params, edge)
    touches, touches_args = _touches(edge, box)
    where, args = _stored_filter(user, params, grid)
    where.append("cx BETWEEN %s AND %s AND cy BETWEEN %s AND %s")
    args += [i0, i1, j0, j1]
    sql = f"""
        SELECT i, j, n FROM (SELECT cx AS i, cy AS j, sum(n) AS n FROM risk_hazardcell
                             WHERE {" AND ".join(where)} GROUP BY cx, cy HAVING sum(n) <> 0) s
        WHERE {touches}
    """
    with connection.cursor() as cur:
        cur.execute(sql, [*args, *touches_args])
        return cur.fetchall()


def _counted_hexes(user, params, grid: int) -> list[tuple[int, int, int]]:
    """(i, j, count) of the hexagons touching the view, each point finding its own cell (heat_cells.hex_cell_sql: one
    pass, no grid of empty cells); the points of a hexagon touching the view lie within two edges of it."""
    edge = heat_cells.HEX_EDGES[grid]
    box, _ = _hex_box(params, edge)
    touches, touches_args = _touches(edge, box)
    x0, y0, x1, y1 = box
    r = heat_cells.MERCATOR_R
    lon0, lon1 = math.degrees((x0 - 2 * edge) / r), math.degrees((x1 + 2 * edge) / r)
    lat0, lat1 = (math.degrees(math.atan(math.sinh(y / r))) for y in (y0 - 2 * edge, y1 + 2 * edge))
    located, args = located_hazards(user, {**dict(params.items()), "bbox": f"{lon0},{lat0},{lon1},{lat1}"})
    x, y = heat_cells.mercator_sql("ST_X(g)", "ST_Y(g)")
    sql = f"""
        SELECT i, j, n FROM (
            SELECT c.i, c.j, count(*) AS n FROM (SELECT {x} AS x, {y} AS y FROM ({located}) l) pts,
            LATERAL ({heat_cells.hex_cell_sql("pts.x", "pts.y", f"{edge!r}::float8")}) c GROUP BY c.i, c.j) s
        WHERE {touches}
    """
    with connection.cursor() as cur:
        cur.execute(sql, [*args, *touches_args])
        return cur.fetchall()
