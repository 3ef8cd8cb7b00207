"""Tile versions kept by PostgreSQL, so that every web process on every machine agrees on them.

A deferred row trigger on each catalogue layer's table stamps the layer with a new number from one sequence when the
writing transaction commits (once per transaction, however many rows it wrote), and a TRUNCATE trigger does the same.
Deferring to commit keeps the version row locked for microseconds, not for the length of a long import. Numbers come
from a sequence rather than +1, so a version is never reused, even after the table is emptied.
"""

from django.db import connection

from .catalogue import CATALOGUE, Layer

FUNCTION_SQL = """
CREATE SEQUENCE IF NOT EXISTS layers_tile_version_seq;
CREATE OR REPLACE FUNCTION layers_bump_tile_version() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    flag text := 'layers_tiles.' || TG_ARGV[0];
BEGIN
    IF TG_OP <> 'TRUNCATE' AND current_setting(flag, true) = txid_current()::text THEN
        RETURN NULL;  -- this transaction has stamped the layer already
    END IF;
    INSERT INTO layers_tile_version (layer, version) VALUES (TG_ARGV[0], nextval('layers_tile_version_seq'))
    ON CONFLICT (layer) DO UPDATE SET version = EXCLUDED.version;
    PERFORM set_config(flag, txid_current()::text, true);
    RETURN NULL;
END $$;
"""


def triggers_sql(layer: Layer) -> str:
    table = layer.get_model()._meta.db_table
    return f"""
        DROP TRIGGER IF EXISTS tile_version_rows ON {table};
        CREATE CONSTRAINT TRIGGER tile_version_rows AFTER INSERT OR UPDATE OR DELETE ON {table}
            DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION layers_bump_tile_version('{layer.key}');
        CREATE OR REPLACE TRIGGER tile_version_truncate AFTER TRUNCATE ON {table}
            FOR EACH STATEMENT EXECUTE FUNCTION layers_bump_tile_version('{layer.key}');
    """


def install(using=None, **kwargs) -> None:
    """Idempotent; run after every migrate (apps.py), so a layer added to the catalogue gets its triggers too."""
    from django.db import connections

    conn = connections[using] if using else connection
    with conn.cursor() as cur:
        cur.execute(FUNCTION_SQL)
        for layer in CATALOGUE:
            cur.execute(triggers_sql(layer))


CURRENT_SQL = "SELECT version FROM layers_tile_version WHERE layer = %s"


def current(layer: Layer) -> int:
    with connection.cursor() as cur:
        cur.execute(CURRENT_SQL, [layer.key])
        row = cur.fetchone()
    return row[0] if row else 0
