"""A local basemap for intranets (BASEMAP=mbtiles): raster tiles served from an MBTiles file on the server."""

import io
import sqlite3

import pytest
from django.test import Client, override_settings
from PIL import Image

from gis_app.lib.checks import local_basemap


def png(colour) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (256, 256), colour).save(buf, "PNG")
    return buf.getvalue()


@pytest.fixture
def mbtiles(tmp_path):
    path = tmp_path / "binhai.mbtiles"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE metadata (name text, value text)")
        db.execute("CREATE TABLE tiles (zoom_level integer, tile_column integer, tile_row integer, tile_data blob)")
        db.executemany("INSERT INTO metadata VALUES (?, ?)", [("name", "滨海新区底图"), ("format", "png")])
        # XYZ z10 x843 y387 (Tianjin Binhai) is TMS row 1023 - 387 = 636
        db.execute("INSERT INTO tiles VALUES (10, 843, 636, ?)", (png("#cfd8dc"),))
    return path


def test_tiles_are_served_from_the_file_in_xyz_order(mbtiles, db):
    settings = {
        "BASEMAP": "mbtiles",
        "BASEMAP_MBTILES": str(mbtiles),
        "BASEMAP_TILE_URL": "/basemap/{z}/{x}/{y}",
        "BASEMAP_ATTRIBUTION": "本地底图",
    }
    with override_settings(**settings):
        anonymous = Client()  # a basemap is public: the public disclosure page shows it too
        r = anonymous.get("/basemap/10/843/387")
        assert r.status_code == 200 and r["Content-Type"] == "image/png" and "max-age" in r["Cache-Control"]
        assert Image.open(io.BytesIO(r.content)).getpixel((5, 5)) == (0xCF, 0xD8, 0xDC)
        assert anonymous.get("/basemap/10/843/636").status_code == 404  # TMS row numbers are not XYZ ones
        assert anonymous.get("/basemap/10/2000/1").status_code == 404  # outside the grid
        page = anonymous.get("/public/").content.decode()
        assert "/basemap/{z}/{x}/{y}" in page and "tianditu" not in page
        assert local_basemap(None) == []


def test_a_missing_or_vector_file_is_a_startup_error(mbtiles, tmp_path, db):
    with override_settings(BASEMAP="mbtiles", BASEMAP_MBTILES=str(tmp_path / "none.mbtiles")):
        [error] = local_basemap(None)
        assert error.id == "gis_app.E002"
        assert Client().get("/basemap/10/843/387").status_code == 404
    with sqlite3.connect(mbtiles) as conn:
        conn.execute("UPDATE metadata SET value = 'pbf' WHERE name = 'format'")
    with override_settings(BASEMAP="mbtiles", BASEMAP_MBTILES=str(mbtiles)):
        [error] = local_basemap(None)
        assert error.id == "gis_app.E003"
