"""Runs under Debian's /usr/bin/python3 with python3-qgis (headless, QT_QPA_PLATFORM=offscreen); never imports Django.

    qgis_project.py build SPEC.json OUTDIR        writes OUTDIR/<project>.qgs, OUTDIR/<gpkg>, OUTDIR/DCIM/
    qgis_project.py inspect PROJECT.qgs            prints what QGIS sees: layers, counts, widgets, relations, paths
    qgis_project.py apply-deltas PROJECTDIR FILE   applies a QField deltafile to the project's GeoPackage (the test
                                                   stand-in for QFieldCloud's delta_apply job), prints statuses

The spec (field_forms/spec.py writes it) declares layers, fields with their QField widget and configuration, features,
form tabs, relations and QFieldSync properties. Layer ids are given by the spec and stay the same on every build (QGIS
3.22 cannot set an id, so the saved project's generated ids are replaced by the stable ones).
"""

import json
import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from qgis.core import (  # noqa: E402
    QgsApplication,
    QgsAttributeEditorContainer,
    QgsAttributeEditorElement,
    QgsAttributeEditorField,
    QgsAttributeEditorRelation,
    QgsCoordinateReferenceSystem,
    QgsDefaultValue,
    QgsEditFormConfig,
    QgsEditorWidgetSetup,
    QgsFeature,
    QgsField,
    QgsFieldConstraints,
    QgsFields,
    QgsGeometry,
    QgsProject,
    QgsRelation,
    QgsVectorFileWriter,
    QgsVectorLayer,
    QgsWkbTypes,
)
from qgis.PyQt.QtCore import QDate, QVariant  # noqa: E402

TYPES = {"string": QVariant.String, "int": QVariant.Int, "real": QVariant.Double, "bool": QVariant.Bool,
         "date": QVariant.Date}  # fmt: skip
WKB = {"Point": QgsWkbTypes.Point, "LineString": QgsWkbTypes.LineString, "Polygon": QgsWkbTypes.Polygon,
       None: QgsWkbTypes.NoGeometry}  # fmt: skip


def _value(kind, value):
    if value is None:
        return None
    if kind == "date":
        return QDate.fromString(value, "yyyy-MM-dd")
    return value


def build(spec_path: str, out: str) -> dict:
    spec = json.loads(Path(spec_path).read_text(encoding="utf-8"))
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "DCIM").mkdir(exist_ok=True)
    gpkg = out_dir / spec["gpkg"]
    if gpkg.exists():
        gpkg.unlink()
    crs = QgsCoordinateReferenceSystem(spec["crs"])
    project = QgsProject.instance()
    project.clear()
    project.setCrs(crs)
    project.setTitle(spec["title"])
    project.setFileName(str(out_dir / spec["project_file"]))
    # 1. the GeoPackage: one table per layer, written through QGIS (GPKG with R-tree and proper booleans/dates)
    for i, layer in enumerate(spec["layers"]):
        fields = QgsFields()
        if layer.get("stable_fid"):  # QGIS writes a field named fid as the GeoPackage's feature id
            fields.append(QgsField("fid", QVariant.LongLong))
        for f in layer["fields"]:
            fields.append(QgsField(f["name"], TYPES[f["type"]]))
        options = QgsVectorFileWriter.SaveVectorOptions()
        options.driverName = "GPKG"
        options.layerName = layer["name"]
        options.fileEncoding = "UTF-8"
        options.actionOnExistingFile = (QgsVectorFileWriter.CreateOrOverwriteFile if i == 0
                                        else QgsVectorFileWriter.CreateOrOverwriteLayer)  # fmt: skip
        writer = QgsVectorFileWriter.create(str(gpkg), fields, WKB[layer["geometry"]], crs,
                                            project.transformContext(), options)  # fmt: skip
        if writer.hasError():
            raise RuntimeError(f"{layer['name']}: {writer.errorMessage()}")
        kinds = {f["name"]: f["type"] for f in layer["fields"]}
        for item in layer["features"]:
            feature = QgsFeature(fields)
            if item.get("wkt"):
                feature.setGeometry(QgsGeometry.fromWkt(item["wkt"]))
            if layer.get("stable_fid"):
                feature.setAttribute("fid", int(item["fid"]))
            for name, value in item["attributes"].items():
                feature.setAttribute(name, _value(kinds[name], value))
            if not writer.addFeature(feature):
                raise RuntimeError(f"{layer['name']}: feature {item.get('fid')} not written: {writer.errorMessage()}")
        del writer
    # 2. the layers, their forms and styles
    layers = {}
    for spec_layer in spec["layers"]:
        if spec_layer.get("table_only"):
            continue
        uri = f"./{spec['gpkg']}|layername={spec_layer['name']}"
        layer = QgsVectorLayer(
            str(out_dir / spec["gpkg"]) + f"|layername={spec_layer['name']}", spec_layer["title"], "ogr"
        )
        if not layer.isValid():
            raise RuntimeError(f"layer {spec_layer['name']} is not valid ({uri})")
        project.addMapLayer(layer)
        layers[spec_layer["id"]] = layer
        _configure(layer, spec_layer)
    id_of = {sid: layer.id() for sid, layer in layers.items()}  # spec id -> QGIS generated id, replaced on save
    for rel in spec["relations"]:
        relation = QgsRelation()
        relation.setId(rel["id"])
        relation.setName(rel["name"])
        relation.setReferencingLayer(id_of[rel["referencing"]])
        relation.setReferencedLayer(id_of[rel["referenced"]])
        for referencing, referenced in rel["pairs"]:
            relation.addFieldPair(referencing, referenced)
        relation.setStrength(QgsRelation.Composition if rel.get("composition") else QgsRelation.Association)
        if not relation.isValid():
            raise RuntimeError(f"relation {rel['id']} is not valid: {relation.validationError()}")
        project.relationManager().addRelation(relation)
    for spec_layer in spec["layers"]:  # forms last: relation editors and ValueRelations need the other layers
        if spec_layer.get("table_only"):
            continue
        _form(layers[spec_layer["id"]], spec_layer, id_of)
    project.writeEntry("QFieldSync", "/attachmentDirs", ["DCIM"])
    project.writeEntry("qfieldsync", "/maximumImageWidthHeight", int(spec.get("max_photo_px", 1600)))
    project.writeEntry("Paths", "/Absolute", False)
    path = out_dir / spec["project_file"]
    if not project.write(str(path)):
        raise RuntimeError(f"cannot write {path}: {project.error()}")
    text = path.read_text(encoding="utf-8")
    for sid, generated in id_of.items():
        text = text.replace(generated, sid)
    path.write_text(text, encoding="utf-8")
    project.clear()
    return {"project": str(path), "gpkg": str(gpkg), "layers": len(layers)}


def _configure(layer: QgsVectorLayer, spec: dict) -> None:
    fields = layer.fields()
    if fields.indexOf("fid") >= 0:  # the GeoPackage's own key: never shown, never typed in
        layer.setEditorWidgetSetup(fields.indexOf("fid"), QgsEditorWidgetSetup("Hidden", {}))
    for f in spec["fields"]:
        index = fields.indexOf(f["name"])
        if index < 0:
            raise RuntimeError(f"{spec['name']}.{f['name']} missing after writing the GeoPackage")
        layer.setFieldAlias(index, f.get("alias") or f["name"])
        layer.setEditorWidgetSetup(index, QgsEditorWidgetSetup(f["widget"], f.get("config") or {}))
        if f.get("default"):
            layer.setDefaultValueDefinition(index, QgsDefaultValue(f["default"], False))
        if f.get("not_null"):
            layer.setFieldConstraint(
                index, QgsFieldConstraints.ConstraintNotNull, QgsFieldConstraints.ConstraintStrengthHard
            )
        if f.get("unique"):
            layer.setFieldConstraint(
                index, QgsFieldConstraints.ConstraintUnique, QgsFieldConstraints.ConstraintStrengthHard
            )
        if f.get("expression"):
            layer.setConstraintExpression(index, f["expression"][0], f["expression"][1])
    if spec.get("read_only"):
        layer.setReadOnly(True)
        layer.setCustomProperty("QFieldSync/is_geometry_locked", True)
        layer.setCustomProperty("QFieldSync/feature_addition_locked", True)
        layer.setCustomProperty("QFieldSync/feature_deletion_locked", True)
        layer.setCustomProperty("QFieldSync/attribute_editing_locked", True)
        layer.setCustomProperty("QFieldSync/cloud_action", "no_action")
    else:
        layer.setCustomProperty("QFieldSync/cloud_action", "offline")
    if spec.get("attachment_naming"):
        layer.setCustomProperty("QFieldSync/attachment_naming", json.dumps(spec["attachment_naming"]))
    if spec.get("display"):
        layer.setDisplayExpression(spec["display"])
    style = spec.get("style")
    if style and layer.geometryType() != QgsWkbTypes.NullGeometry:
        symbol = layer.renderer().symbol()
        symbol.setColor(_colour(style.get("fill") or style["colour"]))
        if hasattr(symbol.symbolLayer(0), "setStrokeColor"):
            symbol.symbolLayer(0).setStrokeColor(_colour(style["colour"]))


def _colour(text: str):
    from qgis.PyQt.QtGui import QColor

    return QColor(text)


def _form(layer: QgsVectorLayer, spec: dict, id_of: dict) -> None:
    # ValueRelation configs name layers by spec id; point them at the generated ids (replaced back on save)
    fields = layer.fields()
    for f in spec["fields"]:
        if f["widget"] == "ValueRelation":
            config = dict(f["config"])
            config["Layer"] = id_of[config["Layer"]]
            layer.setEditorWidgetSetup(fields.indexOf(f["name"]), QgsEditorWidgetSetup("ValueRelation", config))
    tabs = spec.get("tabs")
    if not tabs:
        return
    form = layer.editFormConfig()
    form.setLayout(QgsEditFormConfig.TabLayout)
    form.clearTabs()
    root = form.invisibleRootContainer()
    for tab in tabs:
        container = QgsAttributeEditorContainer(tab["name"], root)
        container.setIsGroupBox(False)
        container.setColumnCount(1)
        for name in tab.get("fields", []):
            container.addChildElement(QgsAttributeEditorField(name, fields.indexOf(name), container))
        for rel_id in tab.get("relations", []):
            relation = QgsProject.instance().relationManager().relation(rel_id)
            element = QgsAttributeEditorRelation(relation, container)
            element.setLabel(tab.get("relation_label", tab["name"]))
            element.setShowLabel(True)
            container.addChildElement(element)
        form.addTab(container)
    for name in spec.get("hidden", []):
        form.setReadOnly(fields.indexOf(name), True)
    layer.setEditFormConfig(form)


def inspect(path: str) -> dict:
    project = QgsProject.instance()
    if not project.read(path):
        raise RuntimeError(f"QGIS cannot read {path}: {project.error()}")
    out = {"title": project.title(), "crs": project.crs().authid(), "layers": {}, "relations": [],
           "absolute_paths": project.readBoolEntry("Paths", "/Absolute", True)[0],
           "attachment_dirs": project.readListEntry("QFieldSync", "/attachmentDirs")[0],
           "max_photo_px": project.readNumEntry("qfieldsync", "/maximumImageWidthHeight")[0]}  # fmt: skip
    for layer_id, layer in project.mapLayers().items():
        form = layer.editFormConfig()
        info = {
            "name": layer.name(), "valid": layer.isValid(), "count": layer.featureCount(), "read_only": layer.readOnly(),
            "source": layer.source(), "geometry": QgsWkbTypes.displayString(layer.wkbType()),
            "crs": layer.crs().authid(), "fields": {}, "layout": int(form.layout()),
            "tabs": [t.name() for t in form.tabs()],
            "tab_relations": [c.relation().id() for t in form.tabs() if hasattr(t, "children") for c in t.children()
                              if c.type() == QgsAttributeEditorElement.AeTypeRelation],
            "attachment_naming": layer.customProperty("QFieldSync/attachment_naming"),
            "cloud_action": layer.customProperty("QFieldSync/cloud_action"),
        }  # fmt: skip
        for index, field in enumerate(layer.fields()):
            setup = layer.editorWidgetSetup(index)
            info["fields"][field.name()] = {
                "widget": setup.type(), "config": _plain(setup.config()), "alias": layer.attributeAlias(index),
                "default": layer.defaultValueDefinition(index).expression(), "type": field.typeName(),
            }  # fmt: skip
        out["layers"][layer_id] = info
    for rel_id, rel in project.relationManager().relations().items():
        out["relations"].append({"id": rel_id, "valid": rel.isValid(), "referencing": rel.referencingLayerId(),
                                 "referenced": rel.referencedLayerId(),
                                 "pairs": {k: v for k, v in rel.fieldPairs().items()}})  # fmt: skip
    project.clear()
    return out


def _plain(value):
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


def apply_deltas(project_dir: str, deltafile: str, overwrite: bool = False) -> dict:
    """What QFieldCloud's worker does with a deltafile, simplified: by layer id, create/patch/delete, with a conflict
    when a patch's `old` values no longer match the feature."""
    project = QgsProject.instance()
    qgs = next(Path(project_dir).glob("*.qgs"))
    if not project.read(str(qgs)):
        raise RuntimeError(project.error())
    deltas = json.loads(Path(deltafile).read_text(encoding="utf-8"))["deltas"]
    statuses = {}
    for delta in deltas:
        layer = project.mapLayer(delta["sourceLayerId"])
        if layer is None:
            statuses[delta["uuid"]] = ("error", f"No layer with id {delta['sourceLayerId']}")
            continue
        layer.setReadOnly(False)
        layer.startEditing()
        kinds = {f.name(): f.type() for f in layer.fields()}
        try:
            status = _apply(layer, delta, kinds, overwrite)
        except Exception as exc:  # noqa: BLE001 - reported per delta, like the server does
            layer.rollBack()
            statuses[delta["uuid"]] = ("error", str(exc))
            continue
        if status[0] == "applied":
            if not layer.commitChanges():
                status = ("error", "; ".join(layer.commitErrors()))
        else:
            layer.rollBack()
        statuses[delta["uuid"]] = status
    project.clear()
    return statuses


def _find(layer, source_pk):
    try:
        fid = int(source_pk)
    except (TypeError, ValueError):
        return None
    feature = layer.getFeature(fid)
    return feature if feature.isValid() else None


def _set_attributes(layer, fid, attributes, kinds):
    fields = layer.fields()
    for name, value in attributes.items():
        index = fields.indexOf(name)
        if index < 0:
            raise KeyError(f"unknown field {name}")
        if kinds[name] == QVariant.Date and value:
            value = QDate.fromString(value[:10], "yyyy-MM-dd")
        layer.changeAttributeValue(fid, index, value)


def _apply(layer, delta, kinds, overwrite=False):
    new, old = delta.get("new") or {}, delta.get("old") or {}
    if delta["method"] == "create":
        feature = QgsFeature(layer.fields())
        if new.get("geometry"):
            feature.setGeometry(QgsGeometry.fromWkt(new["geometry"]))
        for name, value in new.get("attributes", {}).items():
            if kinds.get(name) == QVariant.Date and value:
                value = QDate.fromString(value[:10], "yyyy-MM-dd")
            feature.setAttribute(name, value)
        if not layer.addFeature(feature):
            return ("error", "cannot add feature")
        return ("applied", "")
    # Like QFieldCloud: the feature is the one with the GeoPackage primary key `sourcePk`; attributes never locate it.
    feature = _find(layer, delta.get("sourcePk"))
    if feature is None:
        return ("not_applied", f"Unable to find feature with pk {delta.get('sourcePk')!r}")
    for name, value in (old.get("attributes") or {}).items() if not overwrite else ():
        current = feature[name]
        if hasattr(current, "toString"):
            current = current.toString("yyyy-MM-dd")
        if current != value and not (current in (None, "") and value in (None, "")):
            return ("conflict", f"{name}: expected {value!r}, found {current!r}")
    if delta["method"] == "delete":
        layer.deleteFeature(feature.id())
        return ("applied", "")
    if new.get("geometry"):
        layer.changeGeometry(feature.id(), QgsGeometry.fromWkt(new["geometry"]))
    _set_attributes(layer, feature.id(), new.get("attributes", {}), kinds)
    return ("applied", "")


def main(argv: list[str]) -> int:
    app = QgsApplication([], False)
    app.initQgis()
    try:
        if argv[1] == "build":
            result = build(argv[2], argv[3])
        elif argv[1] == "inspect":
            result = inspect(argv[2])
        elif argv[1] == "apply-deltas":
            result = apply_deltas(argv[2], argv[3], overwrite="--overwrite" in argv[4:])
        else:
            raise SystemExit(f"unknown command {argv[1]}")
        print(json.dumps(result, ensure_ascii=False))
        return 0
    finally:
        app.exitQgis()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
