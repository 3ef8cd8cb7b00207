"""The platform runs as a database role that writes rows but owns no table: the history cannot be truncated, altered
or rewritten by the application's own credentials (#16)."""

import psycopg
import pytest
from django.core.management import call_command
from django.db import connection

from gis_app.ops.roles import ensure_runtime_role

pytestmark = pytest.mark.django_db(transaction=True)


def _as(role: str) -> psycopg.Connection:
    db = connection.settings_dict
    return psycopg.connect(
        host=db["HOST"] or "127.0.0.1", port=db["PORT"], dbname=db["NAME"], user=role, autocommit=True
    )


@pytest.mark.parametrize(
    "sql",
    [
        "TRUNCATE hazards_hazardevent",
        "ALTER TABLE hazards_hazardevent DISABLE TRIGGER ALL",
        "UPDATE hazards_hazardevent SET comment = 'x'",
        "DELETE FROM hazards_hazardevent",
        "DELETE FROM carehomes_carehomehistory",
        "UPDATE ops_accessevent SET ip = NULL",
        "DROP TABLE hazards_hazard",
        "CREATE TABLE sneaky (id int)",
    ],
)
def test_the_runtime_role_cannot_touch_tables_or_history(sql):
    ensure_runtime_role("gis_web")
    with _as("gis_web") as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute(sql)


def test_the_runtime_role_does_the_daily_work(world):
    ensure_runtime_role("gis_web")
    home = world["home_a"]
    with _as("gis_web") as conn:
        conn.execute("UPDATE carehomes_carehome SET beds = beds + 1 WHERE id = %s", [home.pk])
        conn.execute("SELECT count(*) FROM hazards_hazardevent").fetchone()
        conn.execute("CREATE TEMP TABLE scratch AS SELECT 1 AS x")  # the risk recomputation's temporary table


def test_a_dba_gets_the_grants_as_statements(capsys):
    call_command("db_roles", "--role", "gis_runtime", "--print")
    out = capsys.readouterr().out
    assert 'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO "gis_runtime"' in out
    assert 'REVOKE UPDATE, DELETE, TRUNCATE ON "hazards_hazardevent" FROM "gis_runtime"' in out


def test_a_superuser_is_refused_as_the_runtime_role():
    from django.core.management import CommandError

    with pytest.raises(CommandError, match="superuser"):
        call_command("db_roles", "--role", connection.settings_dict["USER"])
