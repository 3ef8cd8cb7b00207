"""Deployment checks of our own, run by `manage.py check --deploy`."""

from django.conf import settings
from django.core.checks import Tags, Warning, register


@register(Tags.security, deploy=True)
def plain_http_opt_out(app_configs, **kwargs):
    if getattr(settings, "INSECURE_HTTP", False):
        return [
            Warning(
                "DJANGO_INSECURE_HTTP is on: cookies are sent and pages served over plain http, without HSTS.",
                hint="Only for a closed intranet or 127.0.0.1. Put the platform behind TLS and unset it.",
                id="gis_app.W001",
            )
        ]
    return []


@register()
def local_basemap(app_configs, **kwargs):
    """BASEMAP=mbtiles: the file must be a raster MBTiles this process can read (else every map shows a blank grid)."""
    import sqlite3

    from django.core.checks import Error

    if getattr(settings, "BASEMAP", "") != "mbtiles":
        return []
    path = settings.BASEMAP_MBTILES
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
            fmt = db.execute("SELECT value FROM metadata WHERE name = 'format'").fetchone()
            db.execute("SELECT 1 FROM tiles LIMIT 1").fetchone()
    except sqlite3.Error as exc:
        return [
            Error(
                f"BASEMAP_MBTILES {path!r} is not a readable MBTiles file ({exc})",
                hint="Point BASEMAP_MBTILES at a .mbtiles file (e.g. QGIS: Generate XYZ tiles (MBTiles)).",
                id="gis_app.E002",
            )
        ]
    if fmt and fmt[0] not in ("png", "jpg", "jpeg", "webp"):
        return [
            Error(
                f"BASEMAP_MBTILES holds {fmt[0]} tiles; only raster tiles (png, jpg, webp) are served",
                id="gis_app.E003",
            )
        ]
    return []
