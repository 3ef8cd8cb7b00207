"""Stored files in an S3-compatible bucket (MEDIA_S3_BUCKET, through django-storages), as several machines share them:
photos served only within the viewer's scope, job results downloaded, and a backup taken from one bucket restored into
another. The bucket is moto's S3 server, a stand-in that speaks S3's REST API (signed requests, ListObjectsV2, …)."""

import io
import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import boto3
import openpyxl
import pytest
from django.db import connection

from gis_app.hazards.models import HazardPhoto
from gis_app.hazards.services import report_hazard
from gis_app.jobs.services import enqueue, run_pending
from gis_app.ops.backup import backup

from .server import database_url
from .test_backup import _psql, manage

KEYS = {"aws_access_key_id": "test-key", "aws_secret_access_key": "test-secret", "region_name": "us-east-1"}


@pytest.fixture(scope="module")
def s3_endpoint():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(url + "/moto-api/", timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        else:
            raise RuntimeError("moto_server did not start")
        yield url
    finally:
        server.terminate()
        server.wait(timeout=10)


def s3(endpoint):
    return boto3.client("s3", endpoint_url=endpoint, **KEYS)


def storage_settings(endpoint: str, bucket: str) -> dict:
    return {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": bucket,
            "endpoint_url": endpoint,
            "region_name": KEYS["region_name"],
            "access_key": KEYS["aws_access_key_id"],
            "secret_key": KEYS["aws_secret_access_key"],
            "addressing_style": "path",
            "file_overwrite": False,
            "default_acl": None,
        },
    }


@pytest.fixture
def bucket(s3_endpoint, settings):
    name = f"media-{uuid.uuid4().hex[:12]}"
    s3(s3_endpoint).create_bucket(Bucket=name)
    settings.MEDIA_S3_BUCKET = name
    settings.STORAGES = {**settings.STORAGES, "default": storage_settings(s3_endpoint, name)}
    return name


def keys(endpoint: str, bucket: str) -> list[str]:
    listing = s3(endpoint).list_objects_v2(Bucket=bucket)
    return sorted(o["Key"] for o in listing.get("Contents", []))


def test_photos_live_in_the_bucket_and_are_served_only_within_scope(client, world, photo, s3_endpoint, bucket):
    hazard = report_hazard(
        care_home=world["home_a"], description="存储桶照片", by=world["users"]["bureau"], photos=[photo("before.png")]
    )
    name = HazardPhoto.objects.get(hazard=hazard).image.name
    assert keys(s3_endpoint, bucket) == [name]
    stored = s3(s3_endpoint).get_object(Bucket=bucket, Key=name)["Body"].read()
    assert stored.startswith(b"\x89PNG")
    client.force_login(world["users"]["care_home"])
    r = client.get(f"/media/{name}")
    assert r.status_code == 200 and b"".join(r.streaming_content) == stored
    client.force_login(world["users"]["other_home"])
    assert client.get(f"/media/{name}").status_code == 404


def test_a_job_result_is_stored_in_the_bucket_and_downloaded(client, world, s3_endpoint, bucket):
    user = world["users"]["bureau"]
    job = enqueue(kind="hazards.export_ledger", title="导出", params={"scope": "district"}, created_by=user)
    run_pending()
    job.refresh_from_db()
    assert job.status == "succeeded", job.error
    assert keys(s3_endpoint, bucket) == [job.result["file"]] and job.result["file"].startswith("exports/")
    client.force_login(user)
    r = client.get(f"/jobs/{job.pk}/download/")
    assert r.status_code == 200
    workbook = openpyxl.load_workbook(io.BytesIO(b"".join(r.streaming_content)))
    assert len(workbook.sheetnames) == 3


@pytest.mark.django_db(transaction=True)
def test_a_backup_of_the_bucket_restores_into_an_empty_bucket(world, photo, s3_endpoint, bucket, tmp_path):
    hazard = report_hazard(
        care_home=world["home_a"], description="备份存储桶", by=world["users"]["bureau"], photos=[photo("b.png")]
    )
    name = HazardPhoto.objects.get(hazard=hazard).image.name
    archive = backup(tmp_path / "backups", say=lambda m: None)

    target_bucket = f"restored-{uuid.uuid4().hex[:12]}"
    s3(s3_endpoint).create_bucket(Bucket=target_bucket)
    database = f"restore_s3_{os.getpid()}"
    _psql(f"DROP DATABASE IF EXISTS {database}")
    _psql(f"CREATE DATABASE {database}")
    _psql("CREATE EXTENSION postgis; CREATE EXTENSION pgrouting", db=database)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "MEDIA_"))}
    env.update(
        DJANGO_SETTINGS_MODULE="gis_app.settings",
        DATABASE_URL=database_url().rsplit("/", 1)[0] + f"/{database}",
        DJANGO_INSECURE_HTTP="true",
        MEDIA_S3_BUCKET=target_bucket,
        MEDIA_S3_ENDPOINT_URL=s3_endpoint,
        MEDIA_S3_REGION=KEYS["region_name"],
        MEDIA_S3_ACCESS_KEY=KEYS["aws_access_key_id"],
        MEDIA_S3_SECRET_KEY=KEYS["aws_secret_access_key"],
    )
    try:
        result = manage("restore", str(archive), env=env, timeout=300)
        assert result.returncode == 0, result.stderr
        assert keys(s3_endpoint, target_bucket) == keys(s3_endpoint, bucket) == [name]
        restored = s3(s3_endpoint).get_object(Bucket=target_bucket, Key=name)["Body"].read()
        assert restored == s3(s3_endpoint).get_object(Bucket=bucket, Key=name)["Body"].read()
    finally:
        connection.close()
        _psql(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
    # a bucket that holds files already is refused: a restore never mixes two platforms' evidence
    _psql(f"CREATE DATABASE {database}")
    try:
        again = manage("restore", str(archive), env=env, timeout=300)
        assert again.returncode != 0 and "不是空的" in again.stderr
    finally:
        _psql(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
