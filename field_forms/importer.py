"""Bringing a field project folder (from QFieldCloud or a cable) into PostGIS: one transaction, upsert by uuid.

1. Read and check everything first: the GeoPackage's tables and fields against the schema, every geometry valid,
   every referenced photo present and readable. Any problem: a report, nothing imported.
2. Then, in one transaction, through the platform's own services (the same validation as the web):
   - site-plan features: new uuid → created; changed in the field only → updated; changed on the web *and* in the field
     since the last exchange → a Conflict for a person (nothing overwritten); deleted in the field → a Conflict too;
   - hazards with a new uuid → reported into the ledger (status 已上报) with their before-photo;
   - inspections with a new uuid → recorded with their checklist results; failed items become hazards;
   - photos stored once (by path and sha256).
   If any service refuses a row, everything is rolled back and the report lists every refusal.
Importing the same folder twice changes nothing the second time.
"""

import hashlib
import logging
import uuid as uuidlib
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from pathlib import Path

import shapely
from django.contrib.gis.geos import GEOSGeometry
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone
from PIL import Image

from gis_app.carehomes.models import CareHome
from gis_app.hazards.models import Hazard
from gis_app.hazards.services import HazardError, report_hazard
from gis_app.inspections.models import Criterion, Inspection, KeyPlace
from gis_app.inspections.services import InspectionError, InspectionInput, InspectorEntry, ItemAnswer, record_inspection
from gis_app.lib.bulk import copy_in
from layers.catalogue import own_layers
from layers.models import FeaturePhoto
from layers.services import FeatureError, save_feature, save_new_features

from . import gpkg as gpkg_reader
from .canonical import digests
from .gpkg import GeoPackageError
from .models import Conflict, FieldProject, ImportedFile, Snapshot
from .spec import GPKG, feature_attributes, feature_digest, feature_digests, schema

log = logging.getLogger(__name__)

FEATURE_LAYERS = {layer.key: layer for layer in own_layers()}
SPATIAL = set(FEATURE_LAYERS) | {"hazards"}  # inspections may be saved without a position


class ImportRefused(Exception):
    def __init__(self, report: "ImportReport"):
        super().__init__("; ".join(report.errors[:5]))
        self.report = report


@dataclass
class ImportReport:
    scope: str = ""
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    conflicts: int = 0
    hazards: int = 0
    inspections: int = 0
    photos: int = 0
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return self.__dict__.copy()

    def summary(self) -> str:
        return (f"新增要素 {self.created}，更新 {self.updated}，无变化 {self.unchanged}，冲突 {self.conflicts}；"
                f"新隐患 {self.hazards}，检查记录 {self.inspections}，照片 {self.photos}")  # fmt: skip


@dataclass
class Row:
    fid: int
    values: dict
    shape: object | None  # shapely geometry; None when the feature has none

    @cached_property
    def geom(self) -> GEOSGeometry | None:
        return GEOSGeometry(memoryview(shapely.to_wkb(self.shape)), srid=4326) if self.shape is not None else None

    @cached_property
    def wkt(self) -> str | None:
        return self.geom.wkt if self.geom is not None else None


def read_folder(folder: Path) -> tuple[str, dict[str, list[Row]], list[str]]:
    errors: list[str] = []
    gpkg = folder / GPKG
    if not gpkg.exists():
        candidates = sorted(folder.glob("*.gpkg"))
        if not candidates:
            return "", {}, [f"文件夹中没有 GeoPackage（应为 {GPKG}）"]
        gpkg = candidates[0]
    needs = schema()
    try:
        read = gpkg_reader.read(gpkg, set(needs) | {"platform_meta"})
    except GeoPackageError as exc:
        log.warning("cannot read %s as a GeoPackage: %s", gpkg.name, exc)  # the library's text stays in the log
        return "", {}, [f"无法读取 {gpkg.name}：不是完整的 GeoPackage（同步或拷贝可能未完成，请重新导出）"]
    scope = ""
    if "platform_meta" in read:
        scope = {r.get("key"): r.get("value") for r in read["platform_meta"].rows}.get("scope", "")
    if not scope:
        errors.append(f"{gpkg.name} 不是本平台生成的外业项目（缺少 platform_meta.scope）")
    tables: dict[str, list[Row]] = {}
    for name, needed in needs.items():
        if name not in read:
            errors.append(f"缺少数据表 {name}")
            continue
        table = read[name]
        missing = needed - set(table.fields)
        if missing:
            errors.append(f"数据表 {name} 缺少字段：{'、'.join(sorted(missing))}")
            continue
        valid = shapely.is_valid(table.shapes).tolist()
        rows = []
        for i, (fid, values, shape) in enumerate(zip(table.fids, table.rows, table.shapes, strict=True)):
            where = f"{name} 第 {fid} 条（{values.get('uuid')}）"
            if i in table.unreadable:
                errors.append(f"{where}几何无法读取：{table.unreadable[i]}")
            elif shape is not None and not valid[i]:
                errors.append(f"{where}几何无效：{shapely.is_valid_reason(shape)}")
            elif shape is None and name in SPATIAL:
                errors.append(f"{where}没有几何")
            rows.append(Row(fid, values, shape))
            if not _is_uuid(values.get("uuid")):
                errors.append(f"{name} 第 {fid} 条：uuid 无效（{values.get('uuid')!r}）")
        tables[name] = rows
    return scope, tables, errors


def _is_uuid(text) -> bool:
    try:
        uuidlib.UUID(str(text))
        return True
    except ValueError:
        return False


def _photo(folder: Path, rel: str | None, errors: list[str], where: str) -> Path | None:
    if not rel:
        return None
    path = (folder / rel).resolve()
    if folder.resolve() not in path.parents:
        errors.append(f"{where}：照片路径越出项目文件夹（{rel}）")
        return None
    if not path.is_file():
        errors.append(f"{where}：照片缺失（{rel}）")
        return None
    try:
        with Image.open(path) as image:
            image.verify()
    except (OSError, SyntaxError, ValueError):
        errors.append(f"{where}：照片无法读取（{rel}）")
        return None
    return path


def _feature_attributes(layer, values: dict) -> dict:
    """GeoPackage values in the platform's types (booleans arrive as 0/1, dates as dates)."""
    out = {"uuid": values["uuid"], "care_home_id": values["care_home_id"], "note": values.get("note"),
           "surveyed_on": values.get("surveyed_on"), "surveyed_by": values.get("surveyed_by")}  # fmt: skip
    for f in layer.fields:
        if f.kind == "computed":
            continue
        v = values.get(f.name)
        if f.kind == "bool" and v is not None:
            v = bool(v)
        out[f.name] = v
    return out


def import_folder(folder: Path, *, by, progress=None) -> ImportReport:
    folder = Path(folder)
    say = progress or (lambda *a, **k: None)
    report = ImportReport()
    scope, tables, errors = read_folder(folder)
    report.scope = scope
    project = FieldProject.objects.filter(scope=scope).first() if scope else None
    if scope and project is None:
        errors.append(f"平台上没有范围为 {scope} 的外业项目，请先生成")
    photos: dict[tuple[str, str], Path] = {}
    for table, rows in tables.items():
        photo_field = "photo_before" if table == "hazards" else "photo"
        for row in rows:
            path = _photo(folder, row.values.get(photo_field), errors, f"{table} {row.values.get('uuid')}")
            if path is not None:
                photos[(table, row.values["uuid"])] = path
    if errors:
        report.errors = errors
        raise ImportRefused(report)
    say(1, 4, "校验通过，开始写入")
    with transaction.atomic():
        _apply(project, folder, tables, photos, by, report)
        if report.errors:
            transaction.set_rollback(True)
    if report.errors:
        for counter in ("created", "updated", "unchanged", "conflicts", "hazards", "inspections", "photos"):
            setattr(report, counter, 0)
        raise ImportRefused(report)
    FieldProject.objects.filter(pk=project.pk).update(pulled_at=timezone.now())
    say(4, 4, report.summary(), force=True)
    return report


def _apply(project, folder, tables, photos, by, report) -> None:
    snapshots = {(s.layer, str(s.uuid)): s for s in project.snapshots.all()}
    homes = {h.pk: h for h in CareHome.objects.filter(pk__in={r.values.get("care_home_id") for rows in tables.values()
                                                               for r in rows if r.values.get("care_home_id")})}  # fmt: skip
    seen = set()
    for key, layer in FEATURE_LAYERS.items():
        model = layer.get_model()
        existing = {str(f.uuid): f for f in model.objects.filter(uuid__in=[r.values["uuid"] for r in tables[key]])}
        web_digests = dict(zip(existing, feature_digests(layer, existing.values()), strict=True))
        rows = [(row, _feature_attributes(layer, row.values)) for row in tables[key]]
        field_digests = digests(key, [(attrs, row.shape) for row, attrs in rows])
        new: list[tuple] = []
        queued: set[str] = set()
        kept: list[tuple] = []  # (uuid, feature) of features already here: their photos stored after the loop
        for (row, attrs), field_digest in zip(rows, field_digests, strict=True):
            uid = row.values["uuid"]
            seen.add((key, uid))
            snap = snapshots.get((key, uid))
            home = homes.get(attrs["care_home_id"])
            where = f"{layer.title} {uid[:8]}"
            if home is None:
                report.errors.append(f"{where}：养老机构编号 {attrs['care_home_id']} 不存在")
                continue
            current = existing.get(uid)
            expected_fid = snap.fid if snap is not None and snap.fid is not None else (current.pk if current else None)
            if current is not None and expected_fid is not None and row.fid != expected_fid:
                # The same uuid under another key: a copied feature or a renumbered package. Matching it by uuid
                # alone could put this edit on the wrong feature; a person decides.
                _conflict(
                    project,
                    key,
                    uid,
                    "fid_mismatch",
                    feature_attributes(layer, current),
                    attrs,
                    row.wkt,
                    f"{where}：外业要素编号 {row.fid} 与平台记录的 {expected_fid} 不一致，未自动合并",
                )
                report.conflicts += 1
                continue
            if current is None and snap is not None:
                # Sent to the field, deleted on the web since: an unchanged field copy must not bring it back; a
                # changed one is for a person to decide (restore it with the field's values, or keep it deleted).
                if snap.digest == field_digest:
                    report.unchanged += 1
                else:
                    _conflict(
                        project,
                        key,
                        uid,
                        "deleted_on_web",
                        None,
                        attrs,
                        row.wkt,
                        f"{where}：平台已删除该要素，外业又有修改，请确认是否恢复",
                    )
                    report.conflicts += 1
                continue
            if current is not None:
                web_digest = web_digests[uid]
                if web_digest == field_digest:
                    report.unchanged += 1
                    _snapshot(project, snap, key, uid, field_digest, row.fid)
                    kept.append((uid, current))
                    continue
                if snap is not None and snap.digest == field_digest:  # changed on the web only: keep it
                    report.unchanged += 1
                    kept.append((uid, current))
                    continue
                open_conflict = Conflict.objects.filter(
                    project=project, layer=key, uuid=uid, kind="both_changed", status="open"
                ).exists()  # a person has this divergence in hand: a later import never settles it for them
                if snap is None or snap.digest != web_digest or open_conflict:  # changed on both sides, or in hand
                    web = {**feature_attributes(layer, current), "geometry": getattr(current, layer.geometry_field).wkt}
                    _conflict(project, key, uid, "both_changed", web, attrs, row.wkt,
                              f"{where}：平台与外业均有修改，未自动合并")  # fmt: skip
                    report.conflicts += 0 if open_conflict else 1  # counted once, when raised
                    continue
            data = {k: v.isoformat() if isinstance(v, date) else v for k, v in attrs.items()
                    if k not in ("uuid", "care_home_id")}  # fmt: skip
            if current is None:  # new in the field: created together with the layer's other new features
                if uid in queued:
                    report.errors.append(f"{where}：同一要素（uuid）在外业数据中出现两次，请在 QGIS 中删除重复的一条")
                else:
                    new.append((row, uid, home, data, where))
                    queued.add(uid)
                continue
            try:
                feature = save_feature(layer, by=by, home=home, geometry=row.geom, attributes=data, instance=current)
            except FeatureError as exc:
                report.errors.append(f"{where}：" + "；".join(f"{k}: {v}" for k, v in exc.errors.items()))
                continue
            report.updated += 1
            feature.refresh_from_db()
            _snapshot(project, snap, key, uid, feature_digest(layer, feature), row.fid)
            kept.append((uid, feature))
        pairs = [(photos[(key, uid)], feature) for uid, feature in kept if (key, uid) in photos]
        _feature_photos(project, folder, layer, pairs, by, report)
        _create_new(project, folder, layer, new, photos, by, report)
    for key, uid in snapshots:  # sent to the field, no longer in the GeoPackage
        if key in FEATURE_LAYERS and (key, uid) not in seen:
            if not Conflict.objects.filter(project=project, layer=key, uuid=uid, kind="deleted_in_field").exists():
                layer = FEATURE_LAYERS[key]
                current = layer.get_model().objects.filter(uuid=uid).first()
                if current is not None:
                    _conflict(project, key, uid, "deleted_in_field", feature_attributes(layer, current), None, None,
                              f"{layer.title} {uid[:8]}：外业已删除，请确认是否在平台删除")  # fmt: skip
                    report.conflicts += 1
    _hazards(project, folder, tables["hazards"], photos, homes, by, report)
    _inspections(project, folder, tables, photos, homes, by, report)


def _create_new(project, folder, layer, new, photos, by, report) -> None:
    """The layer's features new in the field, through the bulk service (same checks as one by one), with their
    snapshots and photos; a refusal is reported per feature and the whole import rolls back."""
    if not new:
        return
    items = [{"home": home, "geometry": row.geom, "attributes": data, "uuid": uid} for row, uid, home, data, _ in new]
    features, errors = save_new_features(layer, items, by=by)
    for i, exc in sorted(errors.items()):
        report.errors.append(f"{new[i][4]}：" + "；".join(f"{k}: {v}" for k, v in exc.errors.items()))
    if errors:
        return
    copy_in(
        Snapshot,
        [
            Snapshot(project=project, layer=layer.key, uuid=uid, digest=value, fid=row.fid)
            for (row, uid, *_), value in zip(new, feature_digests(layer, features), strict=True)
        ],
    )
    report.created += len(features)
    pairs = [
        (photos[(layer.key, uid)], feature)
        for (_row, uid, *_), feature in zip(new, features, strict=True)
        if (layer.key, uid) in photos
    ]
    _feature_photos(project, folder, layer, pairs, by, report)


def _feature_photos(project, folder, layer, pairs, by, report) -> None:
    """Photos of features, many at once: each file stored once (by path and sha256), the rows written in bulk."""
    if not pairs:
        return
    root = folder.resolve()
    files = []
    for path, feature in pairs:
        data = path.read_bytes()
        files.append((path.relative_to(root).as_posix(), hashlib.sha256(data).hexdigest(), data, path.name, feature))
    known = set(
        ImportedFile.objects.filter(project=project, path__in=[f[0] for f in files]).values_list("path", "sha256")
    )
    fresh = []
    for f in files:  # each file once, for the first feature that names it
        if (f[0], f[1]) not in known:
            known.add((f[0], f[1]))
            fresh.append(f)
    ImportedFile.objects.bulk_create(
        [ImportedFile(project=project, path=rel, sha256=sha) for rel, sha, *_ in fresh], ignore_conflicts=True
    )
    field = FeaturePhoto._meta.get_field("image")
    rows = []
    for _rel, _sha, data, name, feature in fresh:
        stored = field.storage.save(field.generate_filename(None, name), ContentFile(data))
        rows.append(
            FeaturePhoto(
                layer=layer.key, feature_uuid=feature.uuid, care_home=feature.care_home, image=stored, uploaded_by=by
            )
        )
    copy_in(FeaturePhoto, rows)
    report.photos += len(rows)


def _snapshot(project, snap, layer, uid, value, fid) -> None:
    if snap is None:
        Snapshot.objects.create(project=project, layer=layer, uuid=uid, digest=value, fid=fid)
    elif (snap.digest, snap.fid) != (value, fid):
        Snapshot.objects.filter(pk=snap.pk).update(digest=value, fid=fid)


def _conflict(project, layer, uid, kind, web, field_values, wkt, message) -> None:
    plain = {k: (v.isoformat() if isinstance(v, date) else v) for k, v in (field_values or {}).items()}
    web = {k: (v.isoformat() if isinstance(v, date) else v) for k, v in (web or {}).items()}
    if field_values is not None:
        plain["geometry"] = wkt
    Conflict.objects.update_or_create(project=project, layer=layer, uuid=uid, kind=kind, status="open",
                                      defaults={"web": web, "field": plain if field_values is not None else None,
                                                "message": message[:300]})  # fmt: skip


def _once(project, folder: Path, path: Path) -> tuple[bool, bytes]:
    data = path.read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    rel = path.relative_to(folder.resolve()).as_posix()
    _, created = ImportedFile.objects.get_or_create(project=project, path=rel, sha256=sha)
    return created, data


def _upload(project, folder, path, report) -> ContentFile | None:
    """A photo for a new hazard or check result (their services store it): recorded once, counted."""
    if path is None:
        return None
    _, data = _once(project, folder, path)
    report.photos += 1
    return ContentFile(data, name=path.name)


def _hazards(project, folder, rows, photos, homes, by, report) -> None:
    known = set(Hazard.objects.filter(uuid__in=[r.values["uuid"] for r in rows]).values_list("uuid", flat=True))
    known = {str(u) for u in known}
    key_places = {k.code: k for k in KeyPlace.objects.all()}
    criteria = {c.code: c for c in Criterion.objects.all()}
    for row in rows:
        v = row.values
        if v["uuid"] in known or v.get("status"):  # already in the ledger (sent out as reference): the ledger owns it
            continue
        home = homes.get(v.get("care_home_id"))
        where = f"隐患 {v['uuid'][:8]}"
        if home is None:
            report.errors.append(f"{where}：养老机构编号 {v.get('care_home_id')} 不存在")
            continue
        upload = _upload(project, folder, photos.get(("hazards", v["uuid"])), report)
        files = [upload] if upload else []
        try:
            report_hazard(care_home=home, description=v.get("description") or "", by=by,
                          category=v.get("category") or "other", severity=v.get("severity") or "general",
                          criterion=criteria.get(v.get("criterion")), key_place=key_places.get(v.get("key_place")),
                          location=row.geom, found_on=v.get("found_on"), photos=files, uuid=v["uuid"])  # fmt: skip
        except HazardError as exc:
            report.errors.append(f"{where}：{exc.message}")
            continue
        report.hazards += 1


def _inspections(project, folder, tables, photos, homes, by, report) -> None:
    rows = tables["inspections"]
    known = {str(u) for u in Inspection.objects.filter(uuid__in=[r.values["uuid"] for r in rows])
             .values_list("uuid", flat=True)}  # fmt: skip
    results: dict[str, list[Row]] = {}
    for r in tables["check_results"]:
        results.setdefault(r.values.get("inspection_uuid") or "", []).append(r)
    orphans = set(results) - {r.values["uuid"] for r in rows}
    for orphan in orphans:
        report.errors.append(f"检查结果指向不存在的检查记录 {orphan or '（空）'}")
    for row in rows:
        v = row.values
        if v["uuid"] in known:
            continue
        home = homes.get(v.get("care_home_id"))
        where = f"检查记录 {v['uuid'][:8]}"
        if home is None:
            report.errors.append(f"{where}：养老机构编号 {v.get('care_home_id')} 不存在")
            continue
        answers = []
        for r in sorted(results.get(v["uuid"], []), key=lambda r: r.fid):
            upload = _upload(project, folder, photos.get(("check_results", r.values["uuid"])), report)
            lon, lat = (row.geom.x, row.geom.y) if row.geom is not None else (None, None)
            answers.append(ItemAnswer(r.values.get("item_code") or "", r.values.get("result") or "",
                                      r.values.get("note") or "", upload, lon, lat))  # fmt: skip
        inspectors = [InspectorEntry(name.strip()) for name in (v.get("inspectors") or "").replace("，", ",").split(",")
                      if name.strip()]  # fmt: skip
        try:
            record_inspection(InspectionInput(
                care_home=home, kind=v.get("kind") or "", inspected_on=v.get("inspected_on") or date.today(),
                signed_by_name=v.get("signed_by_name") or "", answers=answers, frequency=v.get("frequency") or None,
                inspectors=inspectors, note=v.get("note") or "", uuid=v["uuid"]), by=by)  # fmt: skip
        except InspectionError as exc:
            report.errors.append(f"{where}：" + "；".join(f"{k}: {m}" for k, m in exc.errors.items()))
            continue
        report.inspections += 1
