"""Imports a drivable road network from an OpenStreetMap file (.osm.pbf / .osm) into RoadNode/RoadEdge for pgRouting.

Ways are split at every node shared with another way, so each edge runs junction to junction. Costs are seconds at a
speed per road class (or the way's numeric maxspeed); one-way streets get a negative reverse cost. The import replaces
the whole network in one transaction: running it twice on the same file gives the same network.
"""

import itertools
import math

from django.contrib.gis.geos import LineString, Point
from django.db import connection, transaction

from .models import RoadEdge, RoadNode

# km/h by OSM highway class: urban driving speeds for a crew car, not legal limits.
SPEED_KMH = {
    "motorway": 80, "trunk": 60, "primary": 45, "secondary": 40, "tertiary": 35, "unclassified": 30,
    "residential": 25, "living_street": 10, "service": 15, "road": 25,
}  # fmt: skip


def _speed(tags) -> float | None:
    highway = tags.get("highway", "")
    base = SPEED_KMH.get(highway.removesuffix("_link"))
    if base is None:
        return None
    maxspeed = tags.get("maxspeed", "")
    if maxspeed.isdigit():
        return min(base * 1.2, float(maxspeed)) if highway != "motorway" else float(maxspeed)
    return float(base)


def _oneway(tags) -> int:
    value = tags.get("oneway", "")
    if (
        value in ("yes", "true", "1")
        or tags.get("junction") in ("roundabout", "circular")
        or tags.get("highway") == "motorway"
    ):
        return 1
    return -1 if value == "-1" else 0


def haversine_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    r = 6371008.8
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * r * math.asin(math.sqrt(a))


def read_ways(path: str) -> list[tuple[int, dict, list[tuple[int, float, float]]]]:
    import osmium

    ways = []
    for way in osmium.FileProcessor(path).with_locations().with_filter(osmium.filter.KeyFilter("highway")):
        if not way.is_way():
            continue
        tags = {t.k: t.v for t in way.tags}
        if _speed(tags) is None or tags.get("access") in ("no", "private") or tags.get("area") == "yes":
            continue
        nodes = [(n.ref, n.lon, n.lat) for n in way.nodes if n.location.valid()]
        if len(nodes) >= 2:
            ways.append((way.id, tags, nodes))
    return ways


def import_network(path: str, progress=None) -> dict:
    ways = read_ways(path)
    uses: dict[int, int] = {}
    for _, _, nodes in ways:
        for i, (ref, _, _) in enumerate(nodes):
            uses[ref] = uses.get(ref, 0) + (2 if i in (0, len(nodes) - 1) else 1)
    edges, junctions = [], {}
    for n, (way_id, tags, nodes) in enumerate(ways):
        speed = _speed(tags) / 3.6
        direction = _oneway(tags)
        part = [nodes[0]]
        for node in nodes[1:]:
            part.append(node)
            if uses[node[0]] > 1 or node is nodes[-1]:
                length = sum(haversine_m(a[1], a[2], b[1], b[2]) for a, b in itertools.pairwise(part))
                seconds = length / speed
                cost, reverse = (
                    (seconds, -1.0) if direction == 1 else (-1.0, seconds) if direction == -1 else (seconds, seconds)
                )
                if part[0][0] != part[-1][0]:
                    edges.append(RoadEdge(source=part[0][0], target=part[-1][0], cost=cost, reverse_cost=reverse,
                                          length_m=length, highway=tags["highway"][:30], osm_way=way_id,
                                          geom=LineString([(x, y) for _, x, y in part], srid=4326)))  # fmt: skip
                    for ref, x, y in (part[0], part[-1]):
                        junctions[ref] = (x, y)
                part = [node]
        if progress:
            progress(n + 1, len(ways))
    with transaction.atomic():
        RoadEdge.objects.all().delete()
        RoadNode.objects.all().delete()
        RoadNode.objects.bulk_create([RoadNode(id=ref, geom=Point(x, y, srid=4326)) for ref, (x, y) in junctions.items()],
                                     batch_size=5000)  # fmt: skip
        RoadEdge.objects.bulk_create(edges, batch_size=5000)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE routing_roadnode; ANALYZE routing_roadedge")
    return {"ways": len(ways), "edges": len(edges), "nodes": len(junctions),
            "km": round(sum(e.length_m for e in edges) / 1000, 1)}  # fmt: skip
