"""Downloads for GIS users: GeoJSON and GeoPackage, per layer or per care home (every layer), scoped by role.
GeoPackages are written by GDAL's own ogr2ogr (gdal-bin) from the same GeoJSON the API serves."""

import json
import subprocess
import tempfile
from pathlib import Path

from django.http import FileResponse, HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.exceptions import NotFound, ValidationError

from gis_app.carehomes.scope import visible_carehomes
from gis_app.lib.api import BBOX, answers, path

from . import queries
from .api import layer_or_404
from .catalogue import CATALOGUE, Layer
from .openapi import COLLECTION, FILTERS, GEOJSON, LAYER, NOT_FOUND
from .views_base import GisAPIView


def _collection(layer: Layer, user, params) -> str:
    try:
        qs = queries.filtered(layer, queries.scoped(layer, user), params)
    except queries.QueryError as exc:
        raise ValidationError({exc.param: str(exc)}) from None
    return queries.collection_json(layer, queries.feature_rows(layer, qs), {"name": layer.key})


def write_geopackage(target: Path, collections: dict[str, str]) -> None:
    """One GeoPackage table per layer (named by layer key), EPSG:4326."""
    with tempfile.TemporaryDirectory() as tmp:
        for i, (name, text) in enumerate(collections.items()):
            src = Path(tmp) / f"{name}.geojson"
            src.write_text(text, encoding="utf-8")
            args = ["ogr2ogr", "-f", "GPKG", "-nln", name, "-a_srs", "EPSG:4326"]
            if i:
                args.append("-update")
            subprocess.run([*args, str(target), str(src)], check=True, capture_output=True, timeout=300)


FORMAT = OpenApiParameter("fmt", str, OpenApiParameter.PATH, enum=["geojson", "gpkg"], description="file format")
FILES = {
    (200, GEOJSON): COLLECTION,
    (200, "application/geopackage+sqlite3"): OpenApiTypes.BINARY,
}


class LayerDownload(GisAPIView):
    """/layers/<key>/download.<geojson|gpkg>?care_home=&subdistrict=&bbox="""

    @extend_schema(
        operation_id="layer_download",
        description="One layer as a file (GeoJSON, or a GeoPackage table named by the layer key), in your scope.",
        parameters=[LAYER, FORMAT, BBOX, *FILTERS],
        responses={**FILES, **answers(400, 401), 404: NOT_FOUND},
    )
    def get(self, request, layer: str, fmt: str):
        spec = layer_or_404(layer)
        text = _collection(spec, request.user, request.query_params)
        return _respond(fmt, {spec.key: text}, spec.key)


class CareHomeDownload(GisAPIView):
    """/carehomes/<id>/layers.<geojson|gpkg>: every layer of one home."""

    @extend_schema(
        operation_id="carehome_layers_download",
        description="Every layer of one care home: GeoJSON (each feature's `layer` property says which) or GeoPackage.",
        parameters=[path("id", "the care home's id", int, minimum=0), FORMAT],
        responses={**FILES, **answers(401), 404: NOT_FOUND},
    )
    def get(self, request, pk: int, fmt: str):
        home = visible_carehomes(request.user).filter(pk=pk).first()
        if home is None:
            raise NotFound("no such care home in your scope")
        params = {"care_home": str(home.pk)}
        collections = {layer.key: _collection(layer, request.user, params) for layer in CATALOGUE}
        return _respond(fmt, collections, f"carehome-{home.pk}")


def _respond(fmt: str, collections: dict[str, str], stem: str):
    if fmt == "geojson":
        if len(collections) == 1:
            body = next(iter(collections.values()))
        else:  # several layers: one FeatureCollection, each feature saying its layer
            features = []
            for key, text in collections.items():
                for feature in json.loads(text)["features"]:
                    feature["properties"]["layer"] = key
                    features.append(feature)
            body = json.dumps({"type": "FeatureCollection", "name": stem, "features": features}, ensure_ascii=False)
        response = HttpResponse(body, content_type="application/geo+json; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{stem}.geojson"'
        return response
    if fmt == "gpkg":
        tmp = tempfile.NamedTemporaryFile(suffix=".gpkg", delete=False)
        tmp.close()
        path = Path(tmp.name)
        path.unlink()
        write_geopackage(path, collections)
        handle = open(path, "rb")  # noqa: SIM115 - FileResponse closes it
        path.unlink()  # the open handle keeps the data until the response is sent
        return FileResponse(handle, as_attachment=True, filename=f"{stem}.gpkg",
                            content_type="application/geopackage+sqlite3")  # fmt: skip
    raise NotFound("format must be geojson or gpkg")
