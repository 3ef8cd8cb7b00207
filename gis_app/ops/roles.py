"""The database role the platform runs as. Migrations run as the owner of the tables; the web processes, job workers
and the MQTT subscriber connect as a role that may read and write rows but owns nothing: it cannot TRUNCATE, ALTER
(e.g. DISABLE TRIGGER) or DROP a table, and on the history tables (the hazard history, the audit trail, access events)
it may only add rows. A DBA gives a managed database's runtime role exactly these grants (`grants_sql`)."""

from django.db import connection

# History: rows are added, never changed or removed, by the runtime role.
APPEND_ONLY_SUFFIXES = ("history",)
APPEND_ONLY_TABLES = ("hazards_hazardevent", "ops_accessevent")


def append_only_tables(cursor) -> list[str]:
    cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename")
    names = [r[0] for r in cursor.fetchall()]
    return [n for n in names if n in APPEND_ONLY_TABLES or n.endswith(APPEND_ONLY_SUFFIXES)]


def grants_sql(role: str, append_only: list[str]) -> list[str]:
    quoted = connection.ops.quote_name(role)
    database = connection.ops.quote_name(connection.settings_dict["NAME"])
    statements = [
        f"GRANT CONNECT, TEMPORARY ON DATABASE {database} TO {quoted}",
        f"GRANT USAGE ON SCHEMA public TO {quoted}",
        f"REVOKE CREATE ON SCHEMA public FROM {quoted}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {quoted}",
        f"GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO {quoted}",
    ]
    statements += [
        f"REVOKE UPDATE, DELETE, TRUNCATE ON {connection.ops.quote_name(t)} FROM {quoted}" for t in append_only
    ]
    return statements


def ensure_runtime_role(role: str, password: str = "") -> list[str]:
    """Creates the role if missing (needs CREATEROLE) and (re)applies its grants; run after every migrate."""
    quoted = connection.ops.quote_name(role)
    with connection.cursor() as cur:
        cur.execute("SELECT rolsuper FROM pg_roles WHERE rolname = %s", [role])
        row = cur.fetchone()
        if row is None:
            cur.execute(f"CREATE ROLE {quoted} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION")
        elif row[0]:
            raise ValueError(f"role {role} is a superuser: the platform must not run as one")
        if password:
            cur.execute(f"ALTER ROLE {quoted} PASSWORD %s", [password])
        statements = grants_sql(role, append_only_tables(cur))
        for sql in statements:
            cur.execute(sql)
    return statements
