from django.db import connection
from django.http import JsonResponse
from django.views.defaults import page_not_found


def postgis_version() -> str:
    with connection.cursor() as cur:
        cur.execute("SELECT PostGIS_Lib_Version()")
        return cur.fetchone()[0]


def healthz(request):
    """Liveness for load balancers and `make run`: the database answers and PostGIS is installed."""
    try:
        version = postgis_version()
    except Exception as exc:  # noqa: BLE001 - any failure is the answer
        return JsonResponse({"database": "error", "reason": str(exc).strip()[:500]}, status=503)
    return JsonResponse({"database": "ok", "postgis": version})


def protected_media(request, path: str):
    """Photos and exports are evidence about named homes: only a logged-in user whose scope covers the home gets them."""
    from pathlib import PurePosixPath

    from django.http import FileResponse, Http404

    from gis_app.carehomes.scope import visible_carehomes
    from gis_app.hazards.models import HazardPhoto
    from gis_app.inspections.models import CheckResult
    from gis_app.lib import media
    from gis_app.rating.models import DrillRecord
    from layers.models import FeaturePhoto

    if not request.user.is_authenticated:
        raise Http404
    homes = visible_carehomes(request.user)
    # Every kind of stored evidence, each through the home it belongs to.
    allowed = (
        HazardPhoto.objects.filter(image=path, hazard__care_home__in=homes).exists()
        or CheckResult.objects.filter(photo=path, care_home__in=homes).exists()
        or FeaturePhoto.objects.filter(image=path, care_home__in=homes).exists()
        or DrillRecord.objects.filter(attachment=path, care_home__in=homes).exists()
    )
    # the name is one the storage gave a stored file (it equals a row's), never a path made up by the request
    if not allowed or ".." in PurePosixPath(path).parts or not media.exists(path):
        raise Http404
    # Images are shown inline; anything else is downloaded, never rendered by the browser as a page of ours.
    name = PurePosixPath(path).name
    inline = PurePosixPath(name).suffix.lower() in (".jpg", ".jpeg", ".png")
    response = FileResponse(media.open_file(path), as_attachment=not inline, filename=name)
    response["Content-Security-Policy"] = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox"
    return response


# Programs read these: a URL that matches no route answers JSON like the API's own 404, not the HTML page.
API_PREFIXES = ("/api/", "/ogc", "/tiles/", "/layers/")


def not_found(request, exception=None):
    if request.path.startswith(API_PREFIXES) or request.path.endswith((".geojson", ".gpkg", ".pbf")):
        return JsonResponse({"detail": "Not found."}, status=404)
    return page_not_found(request, exception)


MBTILES_TYPES = {"png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg", "webp": "image/webp"}


def basemap_tile(request, z: int, x: int, y: int):
    """A tile of the local basemap (BASEMAP=mbtiles): a raster MBTiles file, read-only, rows in TMS order. Public like
    any basemap (the public disclosure page uses it too); cached by browsers for a day."""
    import sqlite3

    from django.conf import settings
    from django.http import Http404, HttpResponse

    path = settings.BASEMAP_MBTILES
    if not path or not (0 <= z <= 22 and 0 <= x < 2**z and 0 <= y < 2**z):
        raise Http404("no such tile")
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
            row = db.execute(
                "SELECT tile_data FROM tiles WHERE zoom_level = ? AND tile_column = ? AND tile_row = ?",
                (z, x, 2**z - 1 - y),
            ).fetchone()
            fmt = db.execute("SELECT value FROM metadata WHERE name = 'format'").fetchone()
    except sqlite3.Error:
        raise Http404("basemap unavailable") from None
    if row is None:
        raise Http404("outside the basemap")  # Leaflet leaves the cell blank
    response = HttpResponse(bytes(row[0]), content_type=MBTILES_TYPES.get((fmt or ["png"])[0], "image/png"))
    response["Cache-Control"] = "public, max-age=86400"
    return response
