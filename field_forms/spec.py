"""The QField project of a scope, declared from the layer catalogue and the checklist catalogue.

`project_spec(scope)` returns the JSON that qgis_project.py turns into a QGIS project + GeoPackage; `SCHEMA` tells the
importer which tables and fields to expect back. Only widgets QField supports are used (see WIDGETS).
"""

import uuid as uuidlib
from dataclasses import dataclass

import shapely
from django.contrib.gis.db.models.functions import AsWKB
from django.contrib.gis.geos import GEOSGeometry

from gis_app.carehomes.models import CareHome
from gis_app.hazards.models import Category, Hazard, Severity
from gis_app.inspections.models import (
    CheckItem,
    ChecklistVersion,
    CheckResult,
    Criterion,
    Frequency,
    InspectionKind,
    KeyPlace,
)
from gis_app.lib import clock
from layers.catalogue import Field, Layer, own_layers

from .canonical import digest, digests

WIDGETS = frozenset({"Binary", "CheckBox", "Color", "DateTime", "ExternalResource", "Range", "RelationReference",
                     "TextEdit", "UuidGenerator", "ValueMap", "ValueRelation", "RelationEditor", "Hidden"})  # fmt: skip
GPKG = "inspection.gpkg"
CRS = "EPSG:4326"
MAX_PHOTO_PX = 1600
_NAMESPACE = uuidlib.UUID("8d3e6a52-3b1f-4c55-9b7e-0c2f5a7d9e11")


def layer_id(name: str) -> str:
    """The same id for a table in every project and every regeneration: QField's pending deltas name layers by id."""
    return f"{name}_{uuidlib.uuid5(_NAMESPACE, name).hex[:12]}"


@dataclass
class Scope:
    kind: str  # carehome | subdistrict | route
    value: str
    label: str
    homes: list[CareHome]

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.value}"


class ScopeError(ValueError):
    pass


def resolve_scope(text: str, user=None) -> Scope:
    """'carehome:<id>', 'subdistrict:<code>' or 'route:<plan id>', limited to what `user` may see when given."""
    from gis_app.carehomes.models import Subdistrict
    from gis_app.carehomes.scope import visible_carehomes
    from gis_app.routing.models import RoutePlan

    kind, _, value = text.partition(":")
    homes = visible_carehomes(user) if user is not None else CareHome.objects.all()
    homes = homes.select_related("subdistrict").order_by("pk")
    if kind == "carehome" and value.isdigit():
        chosen = list(homes.filter(pk=int(value)))
        label = chosen[0].name if chosen else ""
    elif kind == "subdistrict":
        sub = Subdistrict.objects.filter(code=value).first()
        chosen = list(homes.filter(subdistrict=sub)) if sub else []
        label = sub.name if sub else ""
    elif kind == "route" and value.isdigit():
        plan = RoutePlan.objects.filter(pk=int(value)).first()
        ids = list(plan.stops.exclude(team=None).values_list("care_home_id", flat=True)) if plan else []
        chosen = list(homes.filter(pk__in=ids))
        label = f"{plan.date:%Y-%m-%d} {plan.title}" if plan else ""
    else:
        raise ScopeError(f"范围格式应为 carehome:<编号>、subdistrict:<区划代码> 或 route:<路线编号>，收到“{text}”")
    if not chosen:
        raise ScopeError(f"范围“{text}”内没有可见的养老机构")
    return Scope(kind, value, label, chosen)


# --- fields --------------------------------------------------------------------------------------------------------


def value_map(values) -> dict:
    return {"map": [{label: code} for code, label in values]}


def _f(name, type_, alias, widget, config=None, **extra) -> dict:
    assert widget in WIDGETS, widget
    return {"name": name, "type": type_, "alias": alias, "widget": widget, "config": config or {}, **extra}


def uuid_field() -> dict:
    return _f("uuid", "string", "UUID", "Hidden", default="uuid()", not_null=True, unique=True)


def photo_field(name: str, alias: str) -> dict:
    return _f(name, "string", alias, "ExternalResource", {
        "DocumentViewer": 1, "DocumentViewerHeight": 0, "DocumentViewerWidth": 0, "FileWidget": True,
        "FileWidgetButton": True, "RelativeStorage": 1, "StorageMode": 0, "UseLink": False, "FullUrl": False})  # fmt: skip


def date_field(name: str, alias: str, **extra) -> dict:
    return _f(name, "date", alias, "DateTime", {"field_format": "yyyy-MM-dd", "display_format": "yyyy-MM-dd",
                                                "calendar_popup": True, "allow_null": True}, **extra)  # fmt: skip


def catalogue_field(f: Field) -> dict | None:
    required = {"not_null": True} if f.required else {}
    if f.kind == "text":
        return _f(f.name, "string", f.label, "TextEdit", {"IsMultiline": False, "UseHtml": False}, **required)
    if f.kind == "choice":
        return _f(f.name, "string", f.label, "ValueMap", value_map(f.values.values), **required)
    if f.kind == "bool":
        return _f(
            f.name, "bool", f.label, "CheckBox", {"CheckedState": "", "UncheckedState": "", "TextDisplayMethod": 0}
        )
    if f.kind in ("int", "decimal"):
        step, precision = (1, 0) if f.kind == "int" else (0.1, 2)
        return _f(f.name, "int" if f.kind == "int" else "real", f.label + (f"（{f.unit}）" if f.unit else ""), "Range",
                  {"Min": f.min if f.min is not None else -1e9, "Max": f.max if f.max is not None else 1e9,
                   "Step": step, "Precision": precision, "Style": "SpinBox", "AllowNull": True}, **required)  # fmt: skip
    if f.kind == "date":
        return date_field(f.name, f.label, **required)
    return None  # computed on the platform


def home_field(homes_layer: str, single: CareHome | None) -> dict:
    default = str(single.pk) if single else f"array_first(overlay_nearest('{homes_layer}', \"id\"))"
    return _f("care_home_id", "int", "养老机构", "ValueRelation", {
        "Layer": homes_layer, "LayerName": "养老机构", "Key": "id", "Value": "name", "AllowMulti": False,
        "AllowNull": False, "OrderByValue": True, "UseCompleter": True, "FilterExpression": ""},
        default=default, not_null=True)  # fmt: skip


def naming(layer: str, field: str = "photo") -> dict:
    return {field: f"'DCIM/{layer}_' || \"uuid\" || '_' || format_date(now(),'yyyyMMddhhmmsszzz') || '.{{extension}}'"}


# --- layers --------------------------------------------------------------------------------------------------------


def _wkt(geom: GEOSGeometry | None) -> str | None:
    return geom.wkt if geom is not None else None


def catalogue_layer_fields(layer: Layer, homes_id: str, single) -> list[dict]:
    fields = [uuid_field(), home_field(homes_id, single)]
    fields += [x for x in (catalogue_field(f) for f in layer.fields) if x]
    fields += [
        _f("note", "string", "备注", "TextEdit", {"IsMultiline": True, "UseHtml": False}),
        date_field("surveyed_on", "调查日期", default="to_date(now())"),
        _f("surveyed_by", "string", "调查人", "TextEdit", {"IsMultiline": False, "UseHtml": False}),
        photo_field("photo", "照片"),
    ]
    return fields


def feature_attributes(layer: Layer, feature) -> dict:
    """A platform feature's attributes as the GeoPackage holds them (also the basis of its digest)."""
    out = {"uuid": str(feature.uuid), "care_home_id": feature.care_home_id, "note": feature.note,
           "surveyed_on": feature.surveyed_on.isoformat() if feature.surveyed_on else None,
           "surveyed_by": feature.surveyed_by, "photo": None}  # fmt: skip
    for f in layer.fields:
        if f.kind == "computed":
            continue
        value = getattr(feature, f.name)
        if f.kind == "decimal" and value is not None:
            value = float(value)
        elif f.kind == "date" and value is not None:
            value = value.isoformat()
        out[f.name] = value
    return out


def project_spec(scope: Scope, title: str | None = None) -> dict:
    homes = scope.homes
    ids = [h.pk for h in homes]
    single = homes[0] if scope.kind == "carehome" else None
    homes_id, items_id = layer_id("care_homes"), layer_id("checklist_items")
    route_stops = _route_stops(scope)
    inspections_id, results_id = layer_id("inspections"), layer_id("check_results")
    text = {"IsMultiline": False, "UseHtml": False}
    layers = [
        {
            "id": homes_id, "name": "care_homes", "title": "养老机构", "geometry": "Point", "read_only": True,
            "display": '"name"', "style": {"colour": "#1565c0", "fill": "#42a5f5"},
            "fields": [_f("id", "int", "编号", "TextEdit", text), _f("name", "string", "机构名称", "TextEdit", text),
                       _f("address", "string", "地址", "TextEdit", text), _f("beds", "int", "床位数", "TextEdit", text),
                       _f("manager", "string", "消防安全管理人", "TextEdit", text),
                       _f("phone", "string", "电话", "TextEdit", text)]
                      + ([_f("team", "string", "检查组", "TextEdit", text), _f("stop", "int", "顺序", "TextEdit", text),
                          _f("arrival", "string", "预计到达", "TextEdit", text)] if route_stops else []),
            "features": [{"wkt": h.location.wkt if h.location else None, "attributes": {
                "id": h.pk, "name": h.name, "address": h.address, "beds": h.beds, "manager": h.fire_safety_manager,
                "phone": h.fire_safety_manager_phone, **route_stops.get(h.pk, {})}} for h in homes],
        },
        {
            "id": layer_id("site_boundaries"), "name": "site_boundaries", "title": "院区范围", "geometry": "Polygon",
            "read_only": True, "style": {"colour": "#1565c0", "fill": "#bbdefb"},
            "fields": [_f("care_home_id", "int", "养老机构编号", "TextEdit", text),
                       _f("name", "string", "机构名称", "TextEdit", text)],
            "features": [{"wkt": poly.wkt, "attributes": {"care_home_id": h.pk, "name": h.name}}
                         for h in homes if h.site_boundary for poly in h.site_boundary],
        },
    ]  # fmt: skip
    for layer in own_layers():
        model = layer.get_model()
        features = model.objects.filter(care_home_id__in=ids).order_by("pk")
        layers.append({
            "id": layer_id(layer.key), "name": layer.key, "title": layer.title, "geometry": layer.geometry[0],
            "display": '"uuid"', "style": {"colour": layer.style.colour, "fill": layer.style.fill or layer.style.colour},
            "fields": catalogue_layer_fields(layer, homes_id, single), "attachment_naming": naming(layer.key),
            "tabs": [{"name": "基本信息", "fields": ["care_home_id"] + [f.name for f in layer.fields if f.kind != "computed"]},
                     {"name": "照片与备注", "fields": ["photo", "note", "surveyed_on", "surveyed_by"]}],
            # The GeoPackage fid is the platform's key: QField and QFieldCloud address features by it (sourcePk), so
            # it must name the same feature in every package ever generated, never a renumbering.
            "stable_fid": True,
            "features": [{"wkt": _wkt(getattr(f, layer.geometry_field)), "fid": f.pk,
                          "attributes": feature_attributes(layer, f)} for f in features],
        })  # fmt: skip
    key_places = [(k.code, k.name) for k in KeyPlace.objects.order_by("order", "code")]
    version = ChecklistVersion.in_force()
    items = CheckItem.objects.filter(version=version).select_related("key_place").order_by("key_place__order", "order")
    checked = list(dict.fromkeys((i.key_place.code, i.key_place.name) for i in items))  # key places with items
    hazards = (Hazard.objects.open().filter(care_home_id__in=ids).exclude(location=None)
               .select_related("key_place", "criterion"))  # fmt: skip
    criteria = [(c.code, f"{c.code} {c.text[:40]}") for c in Criterion.objects.select_related("criterion_set").order_by("code")
                if c.criterion_set.in_force_on(clock.today())]  # fmt: skip
    layers += [
        {
            "id": layer_id("hazards"), "name": "hazards", "title": "隐患", "geometry": "Point", "display": '"description"',
            "style": {"colour": "#b71c1c", "fill": "#ff1744"}, "attachment_naming": naming("hazards", "photo_before"),
            "fields": [uuid_field(), home_field(homes_id, single),
                       _f("description", "string", "隐患描述", "TextEdit", {"IsMultiline": True, "UseHtml": False},
                          not_null=True),
                       _f("severity", "string", "等级", "ValueMap", value_map(Severity.choices), default="'general'",
                          not_null=True),
                       _f("category", "string", "类别", "ValueMap", value_map(Category.choices), default="'other'"),
                       _f("key_place", "string", "重点部位", "ValueMap", value_map(key_places)),
                       _f("criterion", "string", "重大隐患判定条款", "ValueMap", value_map(criteria),
                          expression=("\"severity\" <> 'major' OR \"criterion\" IS NOT NULL", "重大隐患必须选择判定条款")),
                       date_field("found_on", "发现日期", default="to_date(now())"),
                       _f("status", "string", "状态（平台）", "Hidden"),
                       photo_field("photo_before", "整改前照片")],
            "tabs": [{"name": "隐患", "fields": ["care_home_id", "description", "severity", "criterion", "category",
                                                 "key_place", "found_on"]},
                     {"name": "照片", "fields": ["photo_before"]}],
            "stable_fid": True,
            "features": [{"wkt": h.location.wkt, "fid": h.pk, "attributes": {
                "uuid": str(h.uuid) if h.uuid else str(uuidlib.uuid5(_NAMESPACE, f"hazard:{h.pk}")),
                "care_home_id": h.care_home_id, "description": h.description, "severity": h.severity,
                "category": h.category, "key_place": h.key_place.code if h.key_place else None,
                "criterion": h.criterion.code if h.criterion_id else None,
                "found_on": h.found_on.isoformat(), "status": h.get_status_display(), "photo_before": None}}
                for h in hazards],
        },
        {
            "id": items_id, "name": "checklist_items", "title": f"检查项（{version.code if version else '—'}）",
            "geometry": None, "read_only": True, "display": '"text"',
            "fields": [_f("code", "string", "代码", "TextEdit", text),
                       _f("key_place", "string", "重点部位", "ValueMap", value_map(key_places)),
                       _f("text", "string", "检查内容", "TextEdit", text),
                       _f("frequency", "string", "频次", "ValueMap", value_map(Frequency.choices)),
                       _f("major", "bool", "涉及重大隐患判定", "CheckBox", {"CheckedState": "", "UncheckedState": ""})],
            "features": [{"wkt": None, "attributes": {"code": i.code, "key_place": i.key_place.code, "text": i.text,
                                                      "frequency": i.frequency, "major": i.major_criterion_id is not None}}
                         for i in items],
        },
        {
            "id": inspections_id, "name": "inspections", "title": "检查记录", "geometry": "Point",
            "display": "\"inspected_on\" || ' ' || \"signed_by_name\"", "style": {"colour": "#2e7d32", "fill": "#a5d6a7"},
            "fields": [uuid_field(), home_field(homes_id, single),
                       _f("kind", "string", "检查类型", "ValueMap", value_map(InspectionKind.choices),
                          default="'joint'", not_null=True),
                       _f("frequency", "string", "频次（自查必选）", "ValueMap", value_map(Frequency.choices)),
                       date_field("inspected_on", "检查日期", default="to_date(now())", not_null=True),
                       _f("inspectors", "string", "检查人员（逗号分隔）", "TextEdit", text),
                       _f("note", "string", "总体情况", "TextEdit", {"IsMultiline": True, "UseHtml": False}),
                       _f("signed_by_name", "string", "签字人", "TextEdit", text, not_null=True)]
                      + [_f(f"kp_{code}", "string", name, "Hidden", default=f"'{code}'") for code, name in checked],
            # one tab per key place, each with a relation editor showing (and adding) only that place's results
            "tabs": [{"name": "基本信息", "fields": ["care_home_id", "kind", "frequency", "inspected_on", "inspectors"]}]
                    + [{"name": name, "relations": [f"rel_results_{code}"], "relation_label": f"{name}检查结果"}
                       for code, name in checked]
                    + [{"name": "签字", "fields": ["note", "signed_by_name"]}],
            "features": [],
        },
        {
            "id": results_id, "name": "check_results", "title": "检查结果", "geometry": None, "display": '"item_code"',
            "attachment_naming": naming("check_results"),
            "fields": [uuid_field(),
                       _f("inspection_uuid", "string", "所属检查", "RelationReference", {
                           "Relation": "rel_inspection_results", "AllowNULL": False, "ShowForm": False,
                           "ReadOnly": True}, not_null=True),  # fmt: skip
                       _f("key_place", "string", "重点部位", "ValueMap", value_map(key_places), not_null=True),
                       _f("item_code", "string", "检查项", "ValueRelation", {
                           "Layer": items_id, "LayerName": "检查项", "Key": "code", "Value": "text",
                           "AllowMulti": False, "AllowNull": False, "OrderByValue": False, "UseCompleter": False,
                           "FilterExpression": "\"key_place\" = current_value('key_place')"}, not_null=True),
                       _f("result", "string", "结果", "ValueMap", value_map(CheckResult.Result.choices),
                          default="'pass'", not_null=True,
                          expression=("\"result\" <> 'fail' OR length(\"note\") > 0", "不合格项请说明问题")),
                       _f("note", "string", "问题说明", "TextEdit", {"IsMultiline": True, "UseHtml": False}),
                       photo_field("photo", "照片")],
            "tabs": [{"name": "检查项", "fields": ["key_place", "item_code", "result", "note"]},
                     {"name": "照片", "fields": ["photo"]}],
            "features": [],
        },
    ]  # fmt: skip
    return {
        "title": title or f"养老机构消防检查：{scope.label}",
        "project_file": "project.qgs",
        "gpkg": GPKG,
        "crs": CRS,
        "max_photo_px": MAX_PHOTO_PX,
        "scope": scope.key,
        "layers": layers,
        "relations": [
            {
                "id": "rel_inspection_results",
                "name": "检查结果",
                "referencing": results_id,
                "referenced": inspections_id,
                "pairs": [["inspection_uuid", "uuid"]],
                "composition": True,
            }
        ]
        + [
            {
                "id": f"rel_results_{code}",
                "name": f"{name}检查结果",
                "referencing": results_id,
                "referenced": inspections_id,
                "pairs": [["inspection_uuid", "uuid"], ["key_place", f"kp_{code}"]],
                "composition": True,
            }
            for code, name in checked
        ],  # fmt: skip
    }


def _route_stops(scope: Scope) -> dict[int, dict]:
    """For a route's project: each home's team, order and planned arrival, shown on the tablet."""
    if scope.kind != "route":
        return {}
    from gis_app.routing.models import PlanStop
    from gis_app.routing.services import hhmm

    stops = PlanStop.objects.filter(plan_id=int(scope.value)).exclude(team=None).select_related("team")
    return {s.care_home_id: {"team": s.team.name, "stop": s.sequence, "arrival": hhmm(s.arrival)} for s in stops}


def feature_digest(layer: Layer, feature) -> str:
    """The digest of a feature as it stands in PostGIS, comparable with one read from a GeoPackage."""
    return digest(layer.key, feature_attributes(layer, feature), getattr(feature, layer.geometry_field).wkt)


def feature_digests(layer: Layer, features) -> list[str]:
    """feature_digest() of many stored features at once (a field pull's thousands), their geometries read from the
    database as WKB (the same coordinates as their WKT: GEOS writes the shortest text that reads back exactly)."""
    features = list(features)
    with_wkb = layer.get_model().objects.filter(pk__in=[f.pk for f in features])
    wkbs = dict(with_wkb.annotate(wkb=AsWKB(layer.geometry_field)).values_list("pk", "wkb"))
    items = [
        (feature_attributes(layer, f), shapely.from_wkb(bytes(wkbs[f.pk])) if wkbs.get(f.pk) is not None else None)
        for f in features
    ]
    return digests(layer.key, items)


def schema() -> dict[str, set[str]]:
    """Table → the fields the importer needs (extra fields are allowed, missing ones refuse the import)."""
    out = {layer.key: {"uuid", "care_home_id", "note", "surveyed_on", "surveyed_by", "photo"}
           | {f.name for f in layer.fields if f.kind != "computed"} for layer in own_layers()}  # fmt: skip
    out["hazards"] = {"uuid", "care_home_id", "description", "severity", "category", "key_place", "criterion",
                      "found_on", "photo_before"}  # fmt: skip
    out["inspections"] = {"uuid", "care_home_id", "kind", "frequency", "inspected_on", "inspectors", "note",
                          "signed_by_name"}  # fmt: skip
    out["check_results"] = {"uuid", "inspection_uuid", "key_place", "item_code", "result", "note", "photo"}
    return out
