"""Density of hazards for the heatmap and the hexagon grid, computed in PostGIS and scoped to the caller's homes.
A hazard without its own point counts at its care home."""

from datetime import date

from django.db import connection

from gis_app.carehomes.models import Role
from gis_app.carehomes.scope import role_of, visible_carehomes
from gis_app.hazards.models import Category, Severity


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


def heat_bins(user, params, zoom: int) -> tuple[list[list[float]], int]:
    """[lat, lon, count] per bin; bins are ~1/8 of a 256-px tile at this zoom, so a page gets a few thousand at most."""
    located, args = located_hazards(user, params)
    size = 360 / (2 ** max(0, min(zoom, 20))) / 8
    sql = f"""
        SELECT (floor(ST_Y(g) / %s) + 0.5) * %s, (floor(ST_X(g) / %s) + 0.5) * %s, count(*)
        FROM ({located}) t GROUP BY 1, 2
    """
    with connection.cursor() as cur:
        cur.execute(sql, [size, size, size, size, *args])
        rows = cur.fetchall()
    return [[round(a, 6), round(b, 6), n] for a, b, n in rows], sum(r[2] for r in rows)


RAMP = ["#fff3e0", "#ffcc80", "#ffa726", "#f4511e", "#c62828", "#7f0000"]


def hex_cells(user, params, edge_m: float = 500) -> dict:
    """Hazards counted per hexagon of the grid anchored at Web Mercator's origin (edge length in metres): each point
    finds its own cell (i, j) from ST_HexagonGrid over the point alone, the points are grouped by cell and only the
    occupied cells are drawn (ST_Hexagon). One pass over the points, no join against a grid of empty cells; a point
    on a shared edge counts once."""
    located, args = located_hazards(user, params)
    sql = f"""
        SELECT ST_AsGeoJSON(ST_Transform(ST_Hexagon(%s, c.i, c.j, ST_SetSRID(ST_MakePoint(0, 0), 3857)), 4326), 6),
               count(*)
        FROM (SELECT ST_Transform(g, 3857) AS g FROM ({located}) l) pts,
             LATERAL (SELECT h.i, h.j FROM ST_HexagonGrid(%s, pts.g) h WHERE ST_Covers(h.geom, pts.g)
                      ORDER BY h.i, h.j LIMIT 1) c
        GROUP BY c.i, c.j
    """
    with connection.cursor() as cur:
        cur.execute(sql, [edge_m, *args, edge_m])
        rows = cur.fetchall()
    top = max((n for _, n in rows), default=1)
    features = [
        f'{{"type":"Feature","geometry":{g},"properties":{{"count":{n},"colour":"{RAMP[min(len(RAMP) - 1, int((len(RAMP) - 1) * n / top))]}"}}}}'
        for g, n in rows
    ]
    return '{"type":"FeatureCollection","features":[' + ",".join(features) + "]}"
