"""Statements on a hot path run as server-side prepared statements. Django's psycopg cursors bind parameters on the
client and never prepare (Django turns psycopg's prepared statements off for connection poolers), so PostgreSQL parses
and plans every statement it receives. For the alarm webhook's insert (rows unpacked from arrays or JSON, ON CONFLICT,
three foreign keys) planning was half of the database's work: pgbench, 4 clients, the same insert 2,091 tps sent as
text, 4,007 tps prepared.

Only the statements run here are prepared; every other query stays as Django sends it. A prepared statement lives with
its connection: a new connection (a database restart, CONN_MAX_AGE) prepares again, and PostgreSQL plans it again by
itself when a table it reads changes (a migration). Behind a pooler in transaction mode that cannot keep prepared
statements (pgbouncer before 1.21, or without max_prepared_statements), set DATABASE_PREPARED_STATEMENTS=false.
Errors are Django's (OperationalError, IntegrityError, …), as from connection.cursor()."""

import sys

import psycopg
from django.conf import settings
from django.db import connection


def fetchall(sql: str, params: list) -> list[tuple]:
    """Run `sql` (with %s placeholders) prepared on the default connection; its rows."""
    connection.ensure_connection()
    raw = connection.connection
    if raw.prepare_threshold is None and settings.DATABASE_PREPARED_STATEMENTS:
        raw.prepare_threshold = sys.maxsize  # psycopg prepares only what is asked with prepare=True
    with connection.wrap_database_errors, psycopg.Cursor(raw) as cursor:  # server-side binding
        cursor.execute(sql, params, prepare=settings.DATABASE_PREPARED_STATEMENTS)
        return cursor.fetchall()
