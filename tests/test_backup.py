"""A backup is only as good as its restore: back up the test database and its files, restore both into a brand-new
database and an empty folder, check the manifest, and serve the restored platform with the web server."""

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psycopg
import pytest
from django.db import connection

from gis_app.hazards.models import HazardPhoto
from gis_app.hazards.services import report_hazard
from gis_app.ops.backup import backup

from .conftest import ensure_demo
from .server import WebServer, database_url

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.django_db(transaction=True)


def _psql(sql: str, db: str = "postgres") -> None:
    d = connection.settings_dict
    subprocess.run(
        [
            "psql",
            "-h",
            d["HOST"] or "127.0.0.1",
            "-p",
            str(d["PORT"]),
            "-U",
            d["USER"],
            "-d",
            db,
            "-v",
            "ON_ERROR_STOP=1",
            "-qc",
            sql,
        ],
        check=True,
        capture_output=True,
        env={**os.environ, "PGPASSWORD": d["PASSWORD"] or ""},
    )


def manage(*args: str, env: dict, timeout: int = 300) -> subprocess.CompletedProcess:
    """A management command in its own process, with the environment of the platform it acts on."""
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )


def test_a_backup_restores_into_an_empty_database_whole_and_serves(world, photo, settings, tmp_path):
    ensure_demo()
    hazard = report_hazard(
        care_home=world["home_a"], description="备份测试隐患", by=world["users"]["bureau"], photos=[photo("before.png")]
    )
    picture = HazardPhoto.objects.get(hazard=hazard).image
    started = time.monotonic()
    archive = backup(tmp_path / "backups", say=lambda m: None)
    assert oct(archive.stat().st_mode)[-3:] == "600"

    name = f"restore_check_{os.getpid()}"
    _psql(f"DROP DATABASE IF EXISTS {name}")
    _psql(f"CREATE DATABASE {name}")
    _psql("CREATE EXTENSION postgis; CREATE EXTENSION pgrouting", db=name)
    target = database_url().rsplit("/", 1)[0] + f"/{name}"
    media = tmp_path / "restored-media"
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    env.update(
        DJANGO_SETTINGS_MODULE="gis_app.settings",
        DATABASE_URL=target,
        MEDIA_ROOT=str(media),
        DJANGO_INSECURE_HTTP="true",
    )
    try:
        result = manage("restore", str(archive), env=env, timeout=300)
        assert result.returncode == 0, result.stderr
        assert "核对一致" in result.stdout
        elapsed = time.monotonic() - started
        assert (media / picture.name).read_bytes() == Path(settings.MEDIA_ROOT, picture.name).read_bytes()
        again = manage("restore", str(archive), env=env, timeout=300)
        assert again.returncode != 0 and "不是空库" in again.stderr  # never over existing data

        verify = manage("verify_ledger", env=env, timeout=120)
        assert verify.returncode == 0 and "链条完整" in verify.stdout  # the hash chains survive the round trip
        d = connection.settings_dict
        restored = psycopg.connect(host=d["HOST"], port=d["PORT"], user=d["USER"], dbname=name, autocommit=True)
        try:  # the ledger's stored counts came back with their hazards, not counted twice by the triggers
            stored = restored.execute("SELECT status, sum(n) FROM hazards_ledgercount GROUP BY 1 HAVING sum(n) <> 0")
            counted = restored.execute("SELECT status, count(*) FROM hazards_hazard GROUP BY 1")
            assert dict(stored.fetchall()) == dict(counted.fetchall()) != {}
        finally:
            restored.close()
        server = WebServer(workers=1, media_root=media, database=target).start()
        try:
            with urllib.request.urlopen(f"{server.url}/accounts/login/", timeout=30) as r:
                assert r.status == 200
            with urllib.request.urlopen(f"{server.url}/public/?q={urllib.parse.quote(world['home_a'].name)}") as r:
                assert world["home_a"].name in r.read().decode()
        finally:
            server.stop()
    finally:
        connection.close()
        _psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    print(f"backup + restore round trip: {elapsed:.1f} s")
