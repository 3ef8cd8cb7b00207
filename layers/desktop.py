"""The bureau's desktop GIS project: a QGIS project (.qgs) whose layers are this platform's OGC API collections and
vector tiles, styled from the layer catalogue, for the district or one 街镇. It names a QGIS authentication
configuration by id (settings.QGIS_AUTHCFG_ID) and holds no secret: the officer stores the user name and a GIS token
under that id once. Built by real QGIS (qgis_desktop.py under /usr/bin/python3) and cached by the digest of its spec."""

import hashlib
import json
import tempfile
from dataclasses import asdict
from pathlib import Path

from django.conf import settings
from django.contrib.gis.db.models import Extent
from django.core.cache import cache

from gis_app.carehomes.models import Subdistrict
from gis_app.carehomes.scope import visible_carehomes, visible_subdistricts
from gis_app.lib.qgis import run_script

from .collections import COLLECTIONS, LayerCollection, Reference

SCRIPT = Path(__file__).with_name("qgis_desktop.py")
BINHAI = (117.25, 38.60, 118.10, 39.40)  # the district, when nothing in scope has a position
DRAW_ORDER = {"Point": 0, "LineString": 1, "Polygon": 2, "MultiPolygon": 3}
CAREHOME_STYLE = {"colour": "#0d47a1", "fill": "#42a5f5", "radius": 8, "symbol": "circle", "width": 1}
SUBDISTRICT_STYLE = {"colour": "#37474f", "fill": "none", "width": 2.5}
CACHE_SECONDS = 24 * 3600


def _fields(collection) -> list[dict]:
    fields = [
        {"name": f.name, "label": f.label + (f"（{f.unit}）" if f.unit else ""), "kind": f.kind}
        for f in collection.fields
    ]
    for f in collection.fields:
        if f.values is not None:
            fields.append({"name": f"{f.name}_label", "label": f"{f.label}（中文）", "kind": "text"})
    if isinstance(collection, LayerCollection):
        fields += [
            {"name": "care_home", "label": "养老机构编号", "kind": "int"},
            {"name": "care_home_name", "label": "养老机构", "kind": "text"},
        ]
        if collection.layer.owned_here:
            fields += [
                {"name": "note", "label": "备注", "kind": "text"},
                {"name": "surveyed_on", "label": "采集日期", "kind": "date"},
                {"name": "surveyed_by", "label": "采集人", "kind": "text"},
                {"name": "updated_at", "label": "更新时间", "kind": "text"},
            ]
    return fields


def _collection_spec(collection) -> dict:
    if isinstance(collection, LayerCollection):
        layer = collection.layer
        return {
            "key": layer.key,
            "title": layer.title,
            "geometry": layer.geometry[0],
            "fields": _fields(collection),
            "style": asdict(layer.style),
            "problem_expression": layer.problem_expression(),
            "problem_labels": layer.problem_labels(),
            "display": '"care_home_name"',
            "tiles": True,
        }
    assert isinstance(collection, Reference)
    is_home = collection.key == "carehome"
    return {
        "key": collection.key,
        "title": collection.title,
        "geometry": collection.geometry[0],
        "fields": _fields(collection),
        "style": CAREHOME_STYLE if is_home else SUBDISTRICT_STYLE,
        "label_field": "name",
        "label_size": 9 if is_home else 12,
        "label_scale": 60_000 if is_home else None,  # home names when zoomed in; 街镇 names always
        "display": '"name"',
        "tiles": False,
    }


def scope_extent(user, subdistrict: Subdistrict | None) -> tuple[float, float, float, float]:
    if subdistrict is not None:
        box = Subdistrict.objects.filter(pk=subdistrict.pk).aggregate(e=Extent("boundary"))["e"]
    else:
        box = visible_subdistricts(user).aggregate(e=Extent("boundary"))["e"]
        box = box or visible_carehomes(user).aggregate(e=Extent("location"))["e"]
    return tuple(round(v, 6) for v in box) if box else BINHAI


def desktop_spec(base: str, user, subdistrict: Subdistrict | None = None) -> dict:
    where = subdistrict.name if subdistrict is not None else "滨海新区"
    ordered = sorted(COLLECTIONS, key=lambda c: (c.key != "hazard", DRAW_ORDER[c.geometry[0]]))
    return {
        "title": f"{where}养老机构消防安全（平台图层）",
        "base": base.rstrip("/"),
        "authcfg": settings.QGIS_AUTHCFG_ID,
        "crs": "EPSG:4490",
        "extent": scope_extent(user, subdistrict),
        "collections": [_collection_spec(c) for c in ordered],
    }


def build_project(spec: dict) -> bytes:
    """The .qgs bytes for a spec; the same spec gives the same file without running QGIS again."""
    digest = hashlib.sha256(json.dumps(spec, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
    key = f"desktop-qgs:{digest}"
    data = cache.get(key)
    if data is None:
        with tempfile.TemporaryDirectory() as tmp:
            spec_path, out = Path(tmp) / "spec.json", Path(tmp) / "project.qgs"
            spec_path.write_text(json.dumps(spec, ensure_ascii=False), encoding="utf-8")
            run_script(SCRIPT, "build", str(spec_path), str(out), timeout=300)
            data = out.read_bytes()
        cache.set(key, data, CACHE_SECONDS)
    return data
