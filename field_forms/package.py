"""Generating a scope's QField project: the spec (spec.py) built into .qgs + GeoPackage + DCIM/ by real QGIS in a
separate /usr/bin/python3 process, and the snapshot of what was sent, for telling field edits from web edits later."""

import hashlib
import io
import json
import zipfile
from pathlib import Path

from django.db import transaction
from django.utils import timezone

from gis_app.lib.qgis import run_script

from .canonical import digest
from .models import FieldProject, Snapshot
from .spec import Scope, project_spec

SCRIPT = Path(__file__).with_name("qgis_project.py")


def run_qgis(*args: str, timeout: int = 600) -> dict:
    return run_script(SCRIPT, *args, timeout=timeout)


def generate(scope: Scope, out_dir: Path, *, title: str | None = None) -> dict:
    spec = project_spec(scope, title)
    spec["layers"].append({"id": "platform_meta", "name": "platform_meta", "title": "platform_meta", "geometry": None,
                           "table_only": True, "fields": [{"name": "key", "type": "string", "widget": "Hidden"},
                                                          {"name": "value", "type": "string", "widget": "Hidden"}],
                           "features": [{"wkt": None, "attributes": {"key": "scope", "value": scope.key}},
                                        {"wkt": None, "attributes": {"key": "generated_at",
                                                                     "value": timezone.now().isoformat()}}]})  # fmt: skip
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_digests(out_dir, spec)
    spec_path = out_dir / ".spec.json"
    spec_path.write_text(json.dumps(spec, ensure_ascii=False), encoding="utf-8")
    try:
        result = run_qgis("build", str(spec_path), str(out_dir))
    finally:
        spec_path.unlink(missing_ok=True)
    with transaction.atomic():
        project, _ = FieldProject.objects.update_or_create(
            scope=scope.key, defaults={"title": spec["title"], "packaged_at": timezone.now()}
        )
        snapshots = {(s.layer, str(s.uuid)): s for s in project.snapshots.all()}
        fresh, changed = [], []
        for layer in spec["layers"]:
            if "uuid" not in {f["name"] for f in layer["fields"]} or layer["name"] == "hazards":
                continue
            for feature in layer["features"]:
                key = (layer["name"], feature["attributes"]["uuid"])
                d = digest(layer["name"], feature["attributes"], feature["wkt"])
                fid = feature.get("fid")
                if key not in snapshots:
                    fresh.append(Snapshot(project=project, layer=key[0], uuid=key[1], digest=d, fid=fid))
                elif (snapshots[key].digest, snapshots[key].fid) != (d, fid):
                    snapshots[key].digest, snapshots[key].fid = d, fid
                    changed.append(snapshots[key])
        Snapshot.objects.bulk_create(fresh)
        Snapshot.objects.bulk_update(changed, ["digest", "fid"], batch_size=2000)
    return {
        **result,
        "folder": str(out_dir),
        "project_id": project.pk,
        "homes": len(scope.homes),
        "features": sum(len(layer["features"]) for layer in spec["layers"] if not layer.get("table_only")),
    }


DIGESTS = ".digests.json"


def write_digests(out_dir: Path, spec: dict) -> None:
    """What the .qgs and the GeoPackage say is fully given by the spec (less its generation time); QGIS writes them
    differently each time (attribute order, save and change stamps). A push compares these, not the bytes."""
    stable = json.loads(json.dumps(spec, ensure_ascii=False))
    for layer in stable["layers"]:
        if layer["name"] == "platform_meta":
            layer["features"] = [f for f in layer["features"] if f["attributes"]["key"] != "generated_at"]
    text = json.dumps(stable, ensure_ascii=False, sort_keys=True)
    said = hashlib.sha256(text.encode()).hexdigest()
    (out_dir / DIGESTS).write_text(json.dumps({"project.qgs": said, "inspection.gpkg": said}), encoding="utf-8")


def read_digests(folder: Path) -> dict[str, str]:
    path = Path(folder) / DIGESTS
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def zip_folder(folder: Path) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for path in sorted(Path(folder).rglob("*")):
            if path.is_file() and not path.name.startswith("."):
                z.write(path, path.relative_to(folder).as_posix())
        if not any(n.startswith("DCIM/") for n in z.namelist()):
            z.writestr("DCIM/", "")
    return buf.getvalue()
