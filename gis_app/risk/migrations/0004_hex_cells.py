from django.db import migrations, models

# the SQL as it was when this migration was written (gis_app/risk/heat_cells.py may change since)
FUNCTIONS_SQL = """
CREATE OR REPLACE FUNCTION risk_hazardcell_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN

    PERFORM 1 FROM carehomes_carehome WHERE id IN (SELECT care_home_id FROM cell_new WHERE location IS NULL)
    ORDER BY id FOR SHARE;


    WITH pts AS MATERIALIZED (
    SELECT ST_X(p) AS lon, ST_Y(p) AS lat, severity, category, status NOT IN ('closed', 'closed_unfixed') AS open, sign
    FROM (SELECT COALESCE(z.location, h.location) AS p, z.severity, z.category, z.status, 1 AS sign
          FROM cell_new z JOIN carehomes_carehome h ON h.id = z.care_home_id) t
    WHERE p IS NOT NULL
)
    INSERT INTO risk_hazardcell (grid, cx, cy, severity, category, open, n)
    SELECT grid, cx, cy, severity, category, open, sum(sign) FROM (
    SELECT 0 AS grid, floor(lon / 0.3515625)::int AS cx, floor(lat / 0.3515625)::int AS cy, severity, category, open, sign
    FROM pts
    UNION ALL
    SELECT e.grid, c.i, c.j, m.severity, m.category, m.open, m.sign
    FROM (SELECT (6378137.0 * radians(lon)) AS x, (6378137.0 * ln(tan(pi() / 4 + radians(least(greatest(lat, -85.0511287798066), 85.0511287798066)) / 2))) AS y, severity, category, open, sign FROM pts) m
    CROSS JOIN (VALUES (1, 2000.0::float8), (2, 8000.0::float8), (3, 32000.0::float8), (4, 128000.0::float8)) e (grid, edge)
    CROSS JOIN LATERAL (
        SELECT CASE WHEN d0 <= d1 THEN i0 ELSE i0 + 1 END AS i, CASE WHEN d0 <= d1 THEN j0 ELSE j1 END AS j
        FROM (SELECT i0, j0, j1,
                     (m.x - (1.5::float8 * e.edge) * i0) ^ 2 + (m.y - (e.edge * sqrt(3::float8)) * (j0 + (i0 & 1) * 0.5::float8)) ^ 2 AS d0,
                     (m.x - (1.5::float8 * e.edge) * (i0 + 1)) ^ 2 + (m.y - (e.edge * sqrt(3::float8)) * (j1 + ((i0 + 1) & 1) * 0.5::float8)) ^ 2 AS d1
              FROM (SELECT i0, ceil(m.y / (e.edge * sqrt(3::float8)) - (i0 & 1) * 0.5::float8 - 0.5::float8)::int AS j0,
                           ceil(m.y / (e.edge * sqrt(3::float8)) - ((i0 + 1) & 1) * 0.5::float8 - 0.5::float8)::int AS j1
                    FROM (SELECT floor(m.x / (1.5::float8 * e.edge))::int AS i0) c0) c1) c2
    ) c
) d
    GROUP BY grid, cx, cy, severity, category, open HAVING sum(sign) <> 0;

    RETURN NULL;
END $$;
CREATE OR REPLACE FUNCTION risk_hazardcell_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN

    PERFORM 1 FROM carehomes_carehome WHERE id IN (SELECT care_home_id FROM cell_old WHERE location IS NULL)
    ORDER BY id FOR SHARE;


    WITH pts AS MATERIALIZED (
    SELECT ST_X(p) AS lon, ST_Y(p) AS lat, severity, category, status NOT IN ('closed', 'closed_unfixed') AS open, sign
    FROM (SELECT COALESCE(z.location, h.location) AS p, z.severity, z.category, z.status, -1 AS sign
          FROM cell_old z JOIN carehomes_carehome h ON h.id = z.care_home_id) t
    WHERE p IS NOT NULL
)
    INSERT INTO risk_hazardcell (grid, cx, cy, severity, category, open, n)
    SELECT grid, cx, cy, severity, category, open, sum(sign) FROM (
    SELECT 0 AS grid, floor(lon / 0.3515625)::int AS cx, floor(lat / 0.3515625)::int AS cy, severity, category, open, sign
    FROM pts
    UNION ALL
    SELECT e.grid, c.i, c.j, m.severity, m.category, m.open, m.sign
    FROM (SELECT (6378137.0 * radians(lon)) AS x, (6378137.0 * ln(tan(pi() / 4 + radians(least(greatest(lat, -85.0511287798066), 85.0511287798066)) / 2))) AS y, severity, category, open, sign FROM pts) m
    CROSS JOIN (VALUES (1, 2000.0::float8), (2, 8000.0::float8), (3, 32000.0::float8), (4, 128000.0::float8)) e (grid, edge)
    CROSS JOIN LATERAL (
        SELECT CASE WHEN d0 <= d1 THEN i0 ELSE i0 + 1 END AS i, CASE WHEN d0 <= d1 THEN j0 ELSE j1 END AS j
        FROM (SELECT i0, j0, j1,
                     (m.x - (1.5::float8 * e.edge) * i0) ^ 2 + (m.y - (e.edge * sqrt(3::float8)) * (j0 + (i0 & 1) * 0.5::float8)) ^ 2 AS d0,
                     (m.x - (1.5::float8 * e.edge) * (i0 + 1)) ^ 2 + (m.y - (e.edge * sqrt(3::float8)) * (j1 + ((i0 + 1) & 1) * 0.5::float8)) ^ 2 AS d1
              FROM (SELECT i0, ceil(m.y / (e.edge * sqrt(3::float8)) - (i0 & 1) * 0.5::float8 - 0.5::float8)::int AS j0,
                           ceil(m.y / (e.edge * sqrt(3::float8)) - ((i0 + 1) & 1) * 0.5::float8 - 0.5::float8)::int AS j1
                    FROM (SELECT floor(m.x / (1.5::float8 * e.edge))::int AS i0) c0) c1) c2
    ) c
) d
    GROUP BY grid, cx, cy, severity, category, open HAVING sum(sign) <> 0;

    RETURN NULL;
END $$;
CREATE OR REPLACE FUNCTION risk_hazardcell_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM carehomes_carehome WHERE id IN (
        SELECT care_home_id FROM cell_old WHERE location IS NULL
        UNION SELECT care_home_id FROM cell_new WHERE location IS NULL
    ) ORDER BY id FOR SHARE;

    WITH pts AS MATERIALIZED (
    SELECT ST_X(p) AS lon, ST_Y(p) AS lat, severity, category, status NOT IN ('closed', 'closed_unfixed') AS open, sign
    FROM (SELECT COALESCE(z.location, h.location) AS p, z.severity, z.category, z.status, -1 AS sign
          FROM cell_old z JOIN carehomes_carehome h ON h.id = z.care_home_id) t
    WHERE p IS NOT NULL
 UNION ALL
    SELECT ST_X(p) AS lon, ST_Y(p) AS lat, severity, category, status NOT IN ('closed', 'closed_unfixed') AS open, sign
    FROM (SELECT COALESCE(z.location, h.location) AS p, z.severity, z.category, z.status, 1 AS sign
          FROM cell_new z JOIN carehomes_carehome h ON h.id = z.care_home_id) t
    WHERE p IS NOT NULL
)
    INSERT INTO risk_hazardcell (grid, cx, cy, severity, category, open, n)
    SELECT grid, cx, cy, severity, category, open, sum(sign) FROM (
    SELECT 0 AS grid, floor(lon / 0.3515625)::int AS cx, floor(lat / 0.3515625)::int AS cy, severity, category, open, sign
    FROM pts
    UNION ALL
    SELECT e.grid, c.i, c.j, m.severity, m.category, m.open, m.sign
    FROM (SELECT (6378137.0 * radians(lon)) AS x, (6378137.0 * ln(tan(pi() / 4 + radians(least(greatest(lat, -85.0511287798066), 85.0511287798066)) / 2))) AS y, severity, category, open, sign FROM pts) m
    CROSS JOIN (VALUES (1, 2000.0::float8), (2, 8000.0::float8), (3, 32000.0::float8), (4, 128000.0::float8)) e (grid, edge)
    CROSS JOIN LATERAL (
        SELECT CASE WHEN d0 <= d1 THEN i0 ELSE i0 + 1 END AS i, CASE WHEN d0 <= d1 THEN j0 ELSE j1 END AS j
        FROM (SELECT i0, j0, j1,
                     (m.x - (1.5::float8 * e.edge) * i0) ^ 2 + (m.y - (e.edge * sqrt(3::float8)) * (j0 + (i0 & 1) * 0.5::float8)) ^ 2 AS d0,
                     (m.x - (1.5::float8 * e.edge) * (i0 + 1)) ^ 2 + (m.y - (e.edge * sqrt(3::float8)) * (j1 + ((i0 + 1) & 1) * 0.5::float8)) ^ 2 AS d1
              FROM (SELECT i0, ceil(m.y / (e.edge * sqrt(3::float8)) - (i0 & 1) * 0.5::float8 - 0.5::float8)::int AS j0,
                           ceil(m.y / (e.edge * sqrt(3::float8)) - ((i0 + 1) & 1) * 0.5::float8 - 0.5::float8)::int AS j1
                    FROM (SELECT floor(m.x / (1.5::float8 * e.edge))::int AS i0) c0) c1) c2
    ) c
) d
    GROUP BY grid, cx, cy, severity, category, open HAVING sum(sign) <> 0;

    RETURN NULL;
END $$;
CREATE OR REPLACE FUNCTION risk_hazardcell_home_moved() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN

    WITH pts AS MATERIALIZED (
    SELECT ST_X(m.p) AS lon, ST_Y(m.p) AS lat, z.severity, z.category, z.status NOT IN ('closed', 'closed_unfixed') AS open, m.sign
    FROM (SELECT o.id, o.location AS p, -1 AS sign FROM home_old o JOIN home_new n ON n.id = o.id
          WHERE o.location IS DISTINCT FROM n.location
          UNION ALL
          SELECT n.id, n.location, 1 FROM home_old o JOIN home_new n ON n.id = o.id
          WHERE o.location IS DISTINCT FROM n.location) m
    JOIN hazards_hazard z ON z.care_home_id = m.id AND z.location IS NULL
    WHERE m.p IS NOT NULL
)
    INSERT INTO risk_hazardcell (grid, cx, cy, severity, category, open, n)
    SELECT grid, cx, cy, severity, category, open, sum(sign) FROM (
    SELECT 0 AS grid, floor(lon / 0.3515625)::int AS cx, floor(lat / 0.3515625)::int AS cy, severity, category, open, sign
    FROM pts
    UNION ALL
    SELECT e.grid, c.i, c.j, m.severity, m.category, m.open, m.sign
    FROM (SELECT (6378137.0 * radians(lon)) AS x, (6378137.0 * ln(tan(pi() / 4 + radians(least(greatest(lat, -85.0511287798066), 85.0511287798066)) / 2))) AS y, severity, category, open, sign FROM pts) m
    CROSS JOIN (VALUES (1, 2000.0::float8), (2, 8000.0::float8), (3, 32000.0::float8), (4, 128000.0::float8)) e (grid, edge)
    CROSS JOIN LATERAL (
        SELECT CASE WHEN d0 <= d1 THEN i0 ELSE i0 + 1 END AS i, CASE WHEN d0 <= d1 THEN j0 ELSE j1 END AS j
        FROM (SELECT i0, j0, j1,
                     (m.x - (1.5::float8 * e.edge) * i0) ^ 2 + (m.y - (e.edge * sqrt(3::float8)) * (j0 + (i0 & 1) * 0.5::float8)) ^ 2 AS d0,
                     (m.x - (1.5::float8 * e.edge) * (i0 + 1)) ^ 2 + (m.y - (e.edge * sqrt(3::float8)) * (j1 + ((i0 + 1) & 1) * 0.5::float8)) ^ 2 AS d1
              FROM (SELECT i0, ceil(m.y / (e.edge * sqrt(3::float8)) - (i0 & 1) * 0.5::float8 - 0.5::float8)::int AS j0,
                           ceil(m.y / (e.edge * sqrt(3::float8)) - ((i0 + 1) & 1) * 0.5::float8 - 0.5::float8)::int AS j1
                    FROM (SELECT floor(m.x / (1.5::float8 * e.edge))::int AS i0) c0) c1) c2
    ) c
) d
    GROUP BY grid, cx, cy, severity, category, open HAVING sum(sign) <> 0;

    RETURN NULL;
END $$;
CREATE OR REPLACE FUNCTION risk_hazardcell_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM risk_hazardcell;
    RETURN NULL;
END $$;
"""

REBUILD_SQL = """
LOCK TABLE hazards_hazard, carehomes_carehome IN SHARE MODE;
DELETE FROM risk_hazardcell;

    WITH pts AS MATERIALIZED (
    SELECT ST_X(p) AS lon, ST_Y(p) AS lat, severity, category, status NOT IN ('closed', 'closed_unfixed') AS open, sign
    FROM (SELECT COALESCE(z.location, h.location) AS p, z.severity, z.category, z.status, 1 AS sign
          FROM hazards_hazard z JOIN carehomes_carehome h ON h.id = z.care_home_id) t
    WHERE p IS NOT NULL
)
    INSERT INTO risk_hazardcell (grid, cx, cy, severity, category, open, n)
    SELECT grid, cx, cy, severity, category, open, sum(sign) FROM (
    SELECT 0 AS grid, floor(lon / 0.3515625)::int AS cx, floor(lat / 0.3515625)::int AS cy, severity, category, open, sign
    FROM pts
    UNION ALL
    SELECT e.grid, c.i, c.j, m.severity, m.category, m.open, m.sign
    FROM (SELECT (6378137.0 * radians(lon)) AS x, (6378137.0 * ln(tan(pi() / 4 + radians(least(greatest(lat, -85.0511287798066), 85.0511287798066)) / 2))) AS y, severity, category, open, sign FROM pts) m
    CROSS JOIN (VALUES (1, 2000.0::float8), (2, 8000.0::float8), (3, 32000.0::float8), (4, 128000.0::float8)) e (grid, edge)
    CROSS JOIN LATERAL (
        SELECT CASE WHEN d0 <= d1 THEN i0 ELSE i0 + 1 END AS i, CASE WHEN d0 <= d1 THEN j0 ELSE j1 END AS j
        FROM (SELECT i0, j0, j1,
                     (m.x - (1.5::float8 * e.edge) * i0) ^ 2 + (m.y - (e.edge * sqrt(3::float8)) * (j0 + (i0 & 1) * 0.5::float8)) ^ 2 AS d0,
                     (m.x - (1.5::float8 * e.edge) * (i0 + 1)) ^ 2 + (m.y - (e.edge * sqrt(3::float8)) * (j1 + ((i0 + 1) & 1) * 0.5::float8)) ^ 2 AS d1
              FROM (SELECT i0, ceil(m.y / (e.edge * sqrt(3::float8)) - (i0 & 1) * 0.5::float8 - 0.5::float8)::int AS j0,
                           ceil(m.y / (e.edge * sqrt(3::float8)) - ((i0 + 1) & 1) * 0.5::float8 - 0.5::float8)::int AS j1
                    FROM (SELECT floor(m.x / (1.5::float8 * e.edge))::int AS i0) c0) c1) c2
    ) c
) d
    GROUP BY grid, cx, cy, severity, category, open HAVING sum(sign) <> 0;

"""

# back: the functions as 0003 made them, and the heat layer's cells only
REVERSE_SQL = """
CREATE OR REPLACE FUNCTION risk_hazardcell_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN

    PERFORM 1 FROM carehomes_carehome WHERE id IN (SELECT care_home_id FROM cell_new WHERE location IS NULL)
    ORDER BY id FOR SHARE;


    INSERT INTO risk_hazardcell (cx, cy, severity, category, open, n)
    SELECT cx, cy, severity, category, open, sum(sign) FROM (
    SELECT floor(ST_X(p) / 0.3515625)::int AS cx, floor(ST_Y(p) / 0.3515625)::int AS cy, severity, category,
           status NOT IN ('closed', 'closed_unfixed') AS open, sign
    FROM (SELECT COALESCE(z.location, h.location) AS p, z.severity, z.category, z.status, 1 AS sign
          FROM cell_new z JOIN carehomes_carehome h ON h.id = z.care_home_id) t
    WHERE p IS NOT NULL
) d
    GROUP BY cx, cy, severity, category, open HAVING sum(sign) <> 0;

    RETURN NULL;
END $$;
CREATE OR REPLACE FUNCTION risk_hazardcell_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN

    PERFORM 1 FROM carehomes_carehome WHERE id IN (SELECT care_home_id FROM cell_old WHERE location IS NULL)
    ORDER BY id FOR SHARE;


    INSERT INTO risk_hazardcell (cx, cy, severity, category, open, n)
    SELECT cx, cy, severity, category, open, sum(sign) FROM (
    SELECT floor(ST_X(p) / 0.3515625)::int AS cx, floor(ST_Y(p) / 0.3515625)::int AS cy, severity, category,
           status NOT IN ('closed', 'closed_unfixed') AS open, sign
    FROM (SELECT COALESCE(z.location, h.location) AS p, z.severity, z.category, z.status, -1 AS sign
          FROM cell_old z JOIN carehomes_carehome h ON h.id = z.care_home_id) t
    WHERE p IS NOT NULL
) d
    GROUP BY cx, cy, severity, category, open HAVING sum(sign) <> 0;

    RETURN NULL;
END $$;
CREATE OR REPLACE FUNCTION risk_hazardcell_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM carehomes_carehome WHERE id IN (
        SELECT care_home_id FROM cell_old WHERE location IS NULL
        UNION SELECT care_home_id FROM cell_new WHERE location IS NULL
    ) ORDER BY id FOR SHARE;

    INSERT INTO risk_hazardcell (cx, cy, severity, category, open, n)
    SELECT cx, cy, severity, category, open, sum(sign) FROM (
    SELECT floor(ST_X(p) / 0.3515625)::int AS cx, floor(ST_Y(p) / 0.3515625)::int AS cy, severity, category,
           status NOT IN ('closed', 'closed_unfixed') AS open, sign
    FROM (SELECT COALESCE(z.location, h.location) AS p, z.severity, z.category, z.status, -1 AS sign
          FROM cell_old z JOIN carehomes_carehome h ON h.id = z.care_home_id) t
    WHERE p IS NOT NULL
 UNION ALL
    SELECT floor(ST_X(p) / 0.3515625)::int AS cx, floor(ST_Y(p) / 0.3515625)::int AS cy, severity, category,
           status NOT IN ('closed', 'closed_unfixed') AS open, sign
    FROM (SELECT COALESCE(z.location, h.location) AS p, z.severity, z.category, z.status, 1 AS sign
          FROM cell_new z JOIN carehomes_carehome h ON h.id = z.care_home_id) t
    WHERE p IS NOT NULL
) d
    GROUP BY cx, cy, severity, category, open HAVING sum(sign) <> 0;

    RETURN NULL;
END $$;
CREATE OR REPLACE FUNCTION risk_hazardcell_home_moved() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO risk_hazardcell (cx, cy, severity, category, open, n)
    SELECT cx, cy, severity, category, open, sum(sign) FROM (
        SELECT floor(ST_X(m.p) / 0.3515625)::int AS cx, floor(ST_Y(m.p) / 0.3515625)::int AS cy, z.severity, z.category,
               z.status NOT IN ('closed', 'closed_unfixed') AS open, m.sign
        FROM (SELECT o.id, o.location AS p, -1 AS sign FROM home_old o JOIN home_new n ON n.id = o.id
              WHERE o.location IS DISTINCT FROM n.location
              UNION ALL
              SELECT n.id, n.location, 1 FROM home_old o JOIN home_new n ON n.id = o.id
              WHERE o.location IS DISTINCT FROM n.location) m
        JOIN hazards_hazard z ON z.care_home_id = m.id AND z.location IS NULL
        WHERE m.p IS NOT NULL
    ) d GROUP BY cx, cy, severity, category, open HAVING sum(sign) <> 0;
    RETURN NULL;
END $$;
CREATE OR REPLACE FUNCTION risk_hazardcell_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM risk_hazardcell;
    RETURN NULL;
END $$;

DELETE FROM risk_hazardcell WHERE grid <> 0;
"""


class Migration(migrations.Migration):

    dependencies = [
        ("risk", "0003_heat_cells"),
    ]

    operations = [
        migrations.AddField(
            model_name="hazardcell",
            name="grid",
            field=models.SmallIntegerField(default=0),
            preserve_default=False,
        ),
        migrations.AddIndex(
            model_name="hazardcell",
            index=models.Index(fields=["grid", "cx", "cy"], name="risk_hazardcell_grid_cell"),
        ),
        migrations.RunSQL(FUNCTIONS_SQL + REBUILD_SQL, REVERSE_SQL),
    ]
