"""Travel-time matrices between places, in whole seconds.

With a road network loaded (manage.py import_roads), every place is snapped to its nearest junction and
pgr_dijkstraCostMatrix gives junction-to-junction times; the snap distance is added at the straight-line speed. Without
a network, or for a place farther than SNAP_LIMIT_M from it, or a pair the network cannot connect, the time is the
straight-line distance × circuity at the given speed. The returned note says which method was used for how many pairs.
"""

from dataclasses import dataclass

from django.db import connection

from .models import RoadEdge, TravelMode
from .osm import haversine_m

SNAP_LIMIT_M = 2000.0
EDGES_SQL = "SELECT id, source, target, cost, reverse_cost FROM routing_roadedge"


@dataclass
class Matrix:
    seconds: list[list[int]]
    mode: str  # TravelMode
    note: str


def straight_seconds(a, b, *, speed_kmh: float, circuity: float) -> int:
    return int(round(haversine_m(a[0], a[1], b[0], b[1]) * circuity / (speed_kmh / 3.6)))


def travel_matrix(points: list[tuple[float, float]], *, speed_kmh: float = 30.0, circuity: float = 1.35) -> Matrix:
    n = len(points)
    straight = [[0 if i == j else straight_seconds(points[i], points[j], speed_kmh=speed_kmh, circuity=circuity)
                 for j in range(n)] for i in range(n)]  # fmt: skip
    basis = f"直线距离 × {circuity:g}，车速 {speed_kmh:g} 公里/小时"
    if n < 2 or not RoadEdge.objects.exists():
        return Matrix(straight, TravelMode.STRAIGHT, f"未载入路网：{basis}")
    snapped = _snap(points)
    nodes = sorted({node for node, dist in snapped if dist <= SNAP_LIMIT_M})
    costs = {}
    if len(nodes) >= 2:
        with connection.cursor() as cursor:
            cursor.execute("SELECT start_vid, end_vid, agg_cost FROM pgr_dijkstraCostMatrix(%s, %s::bigint[], directed => true)",
                           [EDGES_SQL, nodes])  # fmt: skip
            costs = {(a, b): c for a, b, c in cursor.fetchall()}
    seconds, fallback = [row[:] for row in straight], 0
    speed = speed_kmh / 3.6
    for i in range(n):
        for j in range(n):
            if i == j:
                continue
            (a, da), (b, db) = snapped[i], snapped[j]
            if da > SNAP_LIMIT_M or db > SNAP_LIMIT_M:
                fallback += 1
                continue
            road = 0.0 if a == b else costs.get((a, b))
            if road is None:
                fallback += 1
                continue
            seconds[i][j] = int(round(road + (da + db) / speed))
    pairs = n * (n - 1)
    if fallback == pairs:
        return Matrix(straight, TravelMode.STRAIGHT, f"地点均不在已载入路网范围内：{basis}")
    note = f"路网（pgRouting，{pairs - fallback} 对地点）"
    if fallback:
        note += f"；{fallback} 对不在路网范围或不连通，按{basis}"
    return Matrix(seconds, TravelMode.ROAD, note)


def _snap(points) -> list[tuple[int, float]]:
    """Nearest junction and its distance in metres, per point (KNN on the node index, then an exact distance)."""
    out = []
    with connection.cursor() as cursor:
        for lon, lat in points:
            cursor.execute(
                "SELECT id, ST_Distance(geom::geography, ST_SetSRID(ST_MakePoint(%s, %s), 4326)::geography) "
                "FROM routing_roadnode ORDER BY geom <-> ST_SetSRID(ST_MakePoint(%s, %s), 4326) LIMIT 1",
                [lon, lat, lon, lat],
            )
            row = cursor.fetchone()
            out.append((row[0], row[1]) if row else (0, float("inf")))
    return out


def road_path(a: tuple[float, float], b: tuple[float, float]) -> list[tuple[float, float]] | None:
    """The driven path between two places on the loaded road network, as (lat, lon) points for the map; None when
    either place is off the network or no path exists (the map then draws a straight line)."""
    (na, da), (nb, db) = _snap([a, b])
    if da > SNAP_LIMIT_M or db > SNAP_LIMIT_M:
        return None
    if na == nb:
        return [(a[1], a[0]), (b[1], b[0])]
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT e.geom, e.source, e.target, p.node
            FROM pgr_dijkstra(%s, %s::bigint, %s::bigint, directed => true) p
            JOIN routing_roadedge e ON e.id = p.edge
            ORDER BY p.seq
            """,
            [EDGES_SQL, na, nb],
        )
        rows = cursor.fetchall()
    if not rows:
        return None
    from django.contrib.gis.geos import GEOSGeometry

    points = [(a[1], a[0])]
    for geom, source, _target, node in rows:
        coords = list(GEOSGeometry(geom).coords)
        if node != source:  # travelled against the digitised direction
            coords.reverse()
        points += [(y, x) for x, y in coords]
    points.append((b[1], b[0]))
    return points
