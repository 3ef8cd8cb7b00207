"""Hazard counts per cell, stored, so the heat layer and the hexagon grid at country and province zoom read thousands
of cells instead of every hazard (~0.6 s and ~5 s at a million).

`risk_hazardcell` holds signed counts per (grid, cell, severity, category, open) for two kinds of grid:
- grid 0, the heat layer's bins at STORED_ZOOM (45 / 2**STORED_ZOOM degrees square, anchored at 0,0); the bins of every
  lower zoom are whole groups of cells (a bin at zoom z holds the cells whose indexes shifted right by STORED_ZOOM - z
  agree), so the stored counts give exactly what counting the points would;
- grids 1-4 are the hexagon grids of edge HEX_EDGES[grid] (Web Mercator metres). The finest hexagons, HEX_EDGES[0]
  (500 m), are not stored (grid 0 is the heat layer's) but counted from the points of a view: a whole country of them
  would be as many rows as hazards. A hexagon is
  ST_Hexagon(edge, i, j) anchored at Web Mercator's origin, as ST_HexagonGrid numbers them; a point's (i, j) is found by
  arithmetic (`hex_cell_sql`: the nearest centre of the two columns around it, the lower (i, j) on a shared edge), the
  same expression for the stored cells and for counting a view's points, and tested against ST_HexagonGrid.
Statement-level triggers append the counts for every write of a hazard (its point, or its home's when it has none) and
for every move of a home with hazards placed at it; writers only append, and a hazard trigger share-locks the homes it
places hazards at, so a concurrent move of that home waits for it (and then moves the hazard too) or happens first
(and the hazard lands at the new place). The daily job folds the rows (`compact`).

Migrations keep a frozen copy of the SQL they ran (this module changes; a migration must not).
"""

from gis_app.lib import counts

STORED_ZOOM = 7
CELL = 45 / 2**STORED_ZOOM  # degrees; exact in binary, as every bin size 45 / 2**z is
CLOSED = ("closed", "closed_unfixed")  # the heat layer's "open" filter: anything not closed out

# hexagon edges per grid, Web Mercator metres; the page picks one for its zoom (hex_grid_for_zoom)
HEX_EDGES = (500.0, 2000.0, 8000.0, 32000.0, 128000.0)
STORED_HEX_GRIDS = (1, 2, 3, 4)
MERCATOR_R = 6378137.0
MAX_LAT = 85.0511287798066  # Web Mercator's edge; a point beyond it counts at the edge


def hex_grid_for_zoom(zoom: int) -> int:
    """The grid whose hexagons are 13-50 px wide at this map zoom (a 500 m edge is ~26 px at zoom 12)."""
    return max(0, min(len(HEX_EDGES) - 1, (12 - zoom) // 2))


def mercator_sql(lon: str, lat: str) -> tuple[str, str]:
    """SQL of Web Mercator x, y (EPSG:3857, spherical) from longitude and latitude in degrees."""
    x = f"({MERCATOR_R} * radians({lon}))"
    y = f"({MERCATOR_R} * ln(tan(pi() / 4 + radians(least(greatest({lat}, -{MAX_LAT}), {MAX_LAT})) / 2)))"
    return x, y


def hex_cell_sql(x: str, y: str, edge: str) -> str:
    """A subquery (for LATERAL) of the (i, j) of the hexagon holding the Web Mercator point x, y. Columns are 1.5 edge
    apart, rows edge·√3, odd columns half a row up: the point lies in column i0 = floor(x / 1.5 edge) or the next,
    and in each of them the nearest centre is a rounding; the nearer of the two is the hexagon (ties: the lower)."""
    h = f"({edge} * sqrt(3::float8))"
    w = f"(1.5::float8 * {edge})"  # columns apart
    return f"""
        SELECT CASE WHEN d0 <= d1 THEN i0 ELSE i0 + 1 END AS i, CASE WHEN d0 <= d1 THEN j0 ELSE j1 END AS j
        FROM (SELECT i0, j0, j1,
                     ({x} - {w} * i0) ^ 2 + ({y} - {h} * (j0 + (i0 & 1) * 0.5::float8)) ^ 2 AS d0,
                     ({x} - {w} * (i0 + 1)) ^ 2 + ({y} - {h} * (j1 + ((i0 + 1) & 1) * 0.5::float8)) ^ 2 AS d1
              FROM (SELECT i0, ceil({y} / {h} - (i0 & 1) * 0.5::float8 - 0.5::float8)::int AS j0,
                           ceil({y} / {h} - ((i0 + 1) & 1) * 0.5::float8 - 0.5::float8)::int AS j1
                    FROM (SELECT floor({x} / {w})::int AS i0) c0) c1) c2
    """


_X, _Y = mercator_sql("lon", "lat")
_HEX_VALUES = ", ".join(f"({g}, {HEX_EDGES[g]}::float8)" for g in STORED_HEX_GRIDS)

# every point (lon, lat, severity, category, open, sign) into its cell of every stored grid
_CELLS = f"""
    SELECT 0 AS grid, floor(lon / {CELL})::int AS cx, floor(lat / {CELL})::int AS cy, severity, category, open, sign
    FROM pts
    UNION ALL
    SELECT e.grid, c.i, c.j, m.severity, m.category, m.open, m.sign
    FROM (SELECT {_X} AS x, {_Y} AS y, severity, category, open, sign FROM pts) m
    CROSS JOIN (VALUES {_HEX_VALUES}) e (grid, edge)
    CROSS JOIN LATERAL ({hex_cell_sql("m.x", "m.y", "e.edge")}) c
"""
_APPEND = f"""
    WITH pts AS MATERIALIZED ({{points}})
    INSERT INTO risk_hazardcell (grid, cx, cy, severity, category, open, n)
    SELECT grid, cx, cy, severity, category, open, sum(sign) FROM ({_CELLS}) d
    GROUP BY grid, cx, cy, severity, category, open HAVING sum(sign) <> 0 ORDER BY grid, cx, cy;
"""
_POINTS = f"""
    SELECT ST_X(p) AS lon, ST_Y(p) AS lat, severity, category, status NOT IN {CLOSED!r} AS open, sign
    FROM (SELECT COALESCE(z.location, h.location) AS p, z.severity, z.category, z.status, {{sign}} AS sign
          FROM {{rows}} z JOIN carehomes_carehome h ON h.id = z.care_home_id) t
    WHERE p IS NOT NULL
"""
_LOCK_HOMES = """
    PERFORM 1 FROM carehomes_carehome WHERE id IN (SELECT care_home_id FROM {rows} WHERE location IS NULL)
    ORDER BY id FOR SHARE;
"""
_HOME_MOVES = f"""
    SELECT ST_X(m.p) AS lon, ST_Y(m.p) AS lat, z.severity, z.category, z.status NOT IN {CLOSED!r} AS open, m.sign
    FROM (SELECT o.id, o.location AS p, -1 AS sign FROM home_old o JOIN home_new n ON n.id = o.id
          WHERE o.location IS DISTINCT FROM n.location
          UNION ALL
          SELECT n.id, n.location, 1 FROM home_old o JOIN home_new n ON n.id = o.id
          WHERE o.location IS DISTINCT FROM n.location) m
    JOIN hazards_hazard z ON z.care_home_id = m.id AND z.location IS NULL
    WHERE m.p IS NOT NULL
"""

FUNCTIONS_SQL = f"""
CREATE OR REPLACE FUNCTION risk_hazardcell_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    {_LOCK_HOMES.format(rows="cell_new")}
    {_APPEND.format(points=_POINTS.format(rows="cell_new", sign=1))}
    RETURN NULL;
END $$;
CREATE OR REPLACE FUNCTION risk_hazardcell_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    {_LOCK_HOMES.format(rows="cell_old")}
    {_APPEND.format(points=_POINTS.format(rows="cell_old", sign=-1))}
    RETURN NULL;
END $$;
CREATE OR REPLACE FUNCTION risk_hazardcell_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM carehomes_carehome WHERE id IN (
        SELECT care_home_id FROM cell_old WHERE location IS NULL
        UNION SELECT care_home_id FROM cell_new WHERE location IS NULL
    ) ORDER BY id FOR SHARE;
    {_APPEND.format(points=_POINTS.format(rows="cell_old", sign=-1) + " UNION ALL " + _POINTS.format(rows="cell_new", sign=1))}
    RETURN NULL;
END $$;
CREATE OR REPLACE FUNCTION risk_hazardcell_home_moved() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    {_APPEND.format(points=_HOME_MOVES)}
    RETURN NULL;
END $$;
CREATE OR REPLACE FUNCTION risk_hazardcell_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM risk_hazardcell;
    RETURN NULL;
END $$;
"""

REBUILD_SQL = f"""
LOCK TABLE hazards_hazard, carehomes_carehome IN SHARE MODE;
DELETE FROM risk_hazardcell;
{_APPEND.format(points=_POINTS.format(rows="hazards_hazard", sign=1))}
"""


def compact() -> int:
    return counts.compact("risk_hazardcell", ("grid", "cx", "cy", "severity", "category", "open"))


def rebuild() -> None:
    counts.rebuild(REBUILD_SQL)
