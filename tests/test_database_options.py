"""The platform's connections run without PostgreSQL's JIT (it cost up to 0.3 s per aggregate), unless the database
URL says otherwise."""

import pytest
from django.db import connection

from gis_app.lib.env import database_from_url


def test_the_url_decides_the_connection_options():
    assert database_from_url("postgres://u@h:5432/db")["OPTIONS"] == {"options": "-c jit=off"}
    assert database_from_url("postgres://u@h/db?sslmode=require")["OPTIONS"] == {
        "sslmode": "require",
        "options": "-c jit=off",
    }
    assert database_from_url("postgres://u@h/db?options=")["OPTIONS"] == {}  # e.g. behind a pgbouncer
    assert database_from_url("postgres://u@h/db?options=-c%20jit%3Don")["OPTIONS"] == {"options": "-c jit=on"}


@pytest.mark.django_db
def test_the_running_connection_has_jit_off():
    with connection.cursor() as cur:
        cur.execute("SHOW jit")
        assert cur.fetchone()[0] == "off"
