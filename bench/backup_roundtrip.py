"""Backup and restore at national scale (#16): the risk benchmark's data (40,000 homes, 1,000,000 hazards, 3,000
街镇 polygons) backed up with `backup()` and restored with `manage.py restore` into a fresh database, counts verified.
The baseline is pg_dump alone on the same database, in the same run."""

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run() -> list[list]:
    from django.db import connection

    from gis_app.ops.backup import PG_BIN, _libpq_env, backup

    from .risk_national import generate

    generate()
    db = connection.settings_dict
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        subprocess.run([str(PG_BIN / "pg_dump"), "-Fc", "-f", f"{tmp}/plain.dump"], env=_libpq_env(db), check=True)
        plain = time.perf_counter() - t
        t = time.perf_counter()
        archive = backup(Path(tmp) / "out", say=lambda m: None)
        made = time.perf_counter() - t
        target = f"{db['NAME']}_restore"
        admin = {**_libpq_env(db), "PGDATABASE": "postgres"}
        subprocess.run(
            [str(PG_BIN / "psql"), "-qc", f"DROP DATABASE IF EXISTS {target}", "-c", f"CREATE DATABASE {target}"],
            env=admin,
            check=True,
            capture_output=True,
        )
        subprocess.run(
            [str(PG_BIN / "psql"), "-qc", "CREATE EXTENSION postgis; CREATE EXTENSION pgrouting"],
            env={**admin, "PGDATABASE": target},
            check=True,
            capture_output=True,
        )
        auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
        env = {
            **os.environ,
            "DATABASE_URL": f"postgres://{auth}@{db['HOST']}:{db['PORT']}/{target}",
            "MEDIA_ROOT": f"{tmp}/media",
            "DJANGO_INSECURE_HTTP": "true",
        }
        t = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "manage.py", "restore", str(archive)], cwd=ROOT, env=env, capture_output=True, text=True
        )
        restored = time.perf_counter() - t
        subprocess.run(
            [str(PG_BIN / "psql"), "-qc", f"DROP DATABASE IF EXISTS {target} WITH (FORCE)"],
            env=admin,
            capture_output=True,
        )
        ok = done.returncode == 0 and "核对一致" in done.stdout
        size = archive.stat().st_size / 1e6
    return [
        [
            "backup (pg_dump + media + manifest), 1M hazards",
            f"{size:.0f} MB",
            f"{made:.1f} s",
            f"pg_dump {plain:.1f} s",
            f"{made / plain:.2f}",
            "—",
        ],
        [
            "restore into an empty database, counts verified",
            "",
            f"{restored:.1f} s",
            "—",
            "—",
            "ok" if ok else done.stderr[-300:],
        ],
    ]
