"""Backups as part of the product: one file holding the database (pg_dump custom format), the uploaded files, and a
manifest of row counts and checksums that a restore checks itself against.

    make backup                  -> .data/backups/gis_app-<time>.tar
    make restore FILE=<that>     -> into an empty database (a fresh `make run` cluster, or DATABASE_URL), then verified

What a dump holds: every table, including users' password hashes and API token hashes (never the tokens themselves
once tokens are hashed) and the hazard history with its hash chains. Keep backups as confidential as the database.
"""

import hashlib
import io
import json
import os
import subprocess
import tarfile
import tempfile
from datetime import datetime
from pathlib import Path

from django.core.files import File
from django.db import connection

from gis_app.lib import media

PG_BIN = Path(os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"))
# Counted in the manifest and compared after a restore: the tables a bureau would miss first.
COUNTED = [
    "carehomes_carehome",
    "carehomes_subdistrict",
    "auth_user",
    "hazards_hazard",
    "hazards_hazardevent",
    "hazards_hazardphoto",
    "inspections_inspection",
    "inspections_checkresult",
    "alarms_alarmevent",
    "rating_starassessment",
    "layers_safetyexit",
    "layers_firelane",
    "jobs_job",
]


class BackupError(Exception):
    pass


def _libpq_env(db: dict) -> dict:
    env = {
        **os.environ,
        "PGHOST": db["HOST"] or "127.0.0.1",
        "PGPORT": str(db["PORT"] or 5432),
        "PGUSER": db["USER"] or "postgres",
        "PGDATABASE": db["NAME"],
    }
    if db["PASSWORD"]:
        env["PGPASSWORD"] = db["PASSWORD"]
    if (db.get("OPTIONS") or {}).get("sslmode"):
        env["PGSSLMODE"] = db["OPTIONS"]["sslmode"]
    return env


class _Hashing:
    """A file read through, hashing what passes."""

    def __init__(self, file):
        self.file, self.digest = file, hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        chunk = self.file.read(size)
        self.digest.update(chunk)
        return chunk


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def counts(cursor) -> dict[str, int]:
    out = {}
    for table in COUNTED:
        cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [table])
        if cursor.fetchone()[0]:
            cursor.execute(f'SELECT count(*) FROM "{table}"')  # table names from the constant above only
            out[table] = cursor.fetchone()[0]
    return out


def backup(out_dir: Path, say=print) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    target = out_dir / f"gis_app-{stamp}.tar"
    with tempfile.TemporaryDirectory() as tmp:
        dump = Path(tmp) / "db.dump"
        say("导出数据库（pg_dump）…")
        # One snapshot: the counts are taken in the same repeatable-read snapshot the dump exports.
        with connection.cursor() as cur:
            cur.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            cur.execute("SELECT pg_export_snapshot()")
            snapshot = cur.fetchone()[0]
            table_counts = counts(cur)
            result = subprocess.run(
                [
                    str(PG_BIN / "pg_dump"),
                    "-Fc",
                    "--no-owner",
                    "--no-privileges",
                    f"--snapshot={snapshot}",
                    "-f",
                    str(dump),
                ],
                env=_libpq_env(connection.settings_dict),
                capture_output=True,
                text=True,
            )
            cur.execute("COMMIT")
        if result.returncode != 0:
            raise BackupError(f"pg_dump 失败：{result.stderr.strip()[:500]}")
        files = list(media.walk())
        say(f"写入备份文件（数据库 {dump.stat().st_size // 1024} KB，附件 {len(files)} 个）…")
        with tarfile.open(target, "w") as tar:
            tar.add(dump, arcname="db.dump")
            hashes = {}
            for name in files:  # each file read once: hashed as it goes into the archive (a bucket: one download)
                with media.open_file(name) as f:
                    info = tarfile.TarInfo(f"media/{name}")
                    info.size = f.size
                    reader = _Hashing(f)
                    tar.addfile(info, reader)
                    hashes[name] = reader.digest.hexdigest()
            manifest = {
                "format": 1,
                "created_at": datetime.now().astimezone().isoformat(),
                "database": connection.settings_dict["NAME"],
                "counts": table_counts,
                "db_dump": {"name": "db.dump", "sha256": _sha256(dump), "bytes": dump.stat().st_size},
                "media": hashes,
            }
            data = json.dumps(manifest, ensure_ascii=False, indent=1).encode()
            info = tarfile.TarInfo("manifest.json")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    target.chmod(0o600)
    return target


def restore(archive: Path, say=print) -> dict:
    """Into the (empty) database and the (empty) file storage of the current settings (MEDIA_ROOT or the bucket);
    returns the manifest after checking it."""
    with connection.cursor() as cur:
        cur.execute("SELECT to_regclass('django_migrations') IS NOT NULL")
        if cur.fetchone()[0]:
            raise BackupError(
                f"数据库 {connection.settings_dict['NAME']} 不是空库（已有数据表）：请恢复到新建的空数据库"
            )
    if next(media.walk(), None) is not None:
        raise BackupError(f"附件存储 {media.where()} 不是空的：请指定一个空目录（MEDIA_ROOT）或空的存储桶")
    with tempfile.TemporaryDirectory() as tmp, tarfile.open(archive) as tar:
        tmp_path = Path(tmp)
        for member in tar.getmembers():
            if (
                member.name.startswith("/")
                or ".." in Path(member.name).parts
                or not (member.isfile() or member.isdir())
            ):
                raise BackupError(f"备份文件中有不安全的路径：{member.name}")
        tar.extractall(tmp_path, filter="data")
        manifest = json.loads((tmp_path / "manifest.json").read_text())
        dump = tmp_path / "db.dump"
        if _sha256(dump) != manifest["db_dump"]["sha256"]:
            raise BackupError("数据库备份的校验和不符：备份文件已损坏")
        env = _libpq_env(connection.settings_dict)
        # The target already has PostGIS (and pgRouting) from setup; the dump's CREATE EXTENSION entries are skipped.
        listing = subprocess.run(
            [str(PG_BIN / "pg_restore"), "-l", str(dump)], capture_output=True, text=True, check=True
        )
        keep = "\n".join(line for line in listing.stdout.splitlines() if " EXTENSION " not in line)
        (tmp_path / "list").write_text(keep)
        say("恢复数据库（pg_restore）…")
        connection.close()
        result = subprocess.run(
            [
                str(PG_BIN / "pg_restore"),
                "--no-owner",
                "--no-privileges",
                "--exit-on-error",
                "--single-transaction",
                "-L",
                str(tmp_path / "list"),
                "-d",
                env["PGDATABASE"],
                str(dump),
            ],
            env=env,
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            raise BackupError(f"pg_restore 失败：{result.stderr.strip()[:800]}")
        say(f"恢复附件（{len(manifest['media'])} 个）…")
        for rel, digest in manifest["media"].items():
            source = tmp_path / "media" / rel
            if _sha256(source) != digest:
                raise BackupError(f"附件 {rel} 的校验和不符")
            with source.open("rb") as f:
                stored = media.save(rel, File(f))
            if stored != rel:
                raise BackupError(f"附件 {rel} 未能按原名恢复（存为 {stored}）")
    with connection.cursor() as cur:
        restored = counts(cur)
    if restored != manifest["counts"]:
        diff = {
            t: (manifest["counts"].get(t), restored.get(t))
            for t in set(restored) | set(manifest["counts"])
            if manifest["counts"].get(t) != restored.get(t)
        }
        raise BackupError(f"恢复后的记录数与备份清单不符：{diff}")
    return manifest
