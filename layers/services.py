"""Creating, changing and deleting site-plan features: attributes checked against the catalogue, geometry checked
(type, validity, inside the district, near its care home), then written in one transaction."""

import math
from datetime import date
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.contrib.gis.geos import GEOSGeometry, Point, WKBWriter
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from gis_app.carehomes.models import CareHome
from gis_app.carehomes.scope import role_of, visible_carehomes
from gis_app.lib import geojson
from gis_app.lib.bulk import copy_in
from gis_app.lib.srid import UTM50N, WGS84

from .catalogue import Layer

# A site-plan feature is drawn by hand or surveyed: thousands of vertices mean a wrong file, and cost seconds to store.
MAX_VERTICES = 10_000
MAX_NOTE = 2_000


# A new feature this close to one of the same layer and home is probably drawn twice (a warning the editor may
# override: extinguishers do stand in pairs): points within 1.5 m, lines whose every vertex is within 3 m of the other,
# areas overlapping by 80 % of the smaller one.
DUPLICATE_POINT_M = 1.5
DUPLICATE_LINE_M = 3.0
DUPLICATE_OVERLAP = 0.8


class FeatureError(Exception):
    """Refused input: `errors` maps a field (or "geometry", "care_home", "permission") to a precise reason;
    `detail` carries what a client needs beyond the message (the feature a duplicate repeats)."""

    def __init__(self, errors: dict[str, str], code: str = "invalid", detail: dict | None = None):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors
        self.code = code
        self.detail = detail or {}


def can_edit(user, layer: Layer, home: CareHome) -> bool:
    return role_of(user) in layer.edit_roles and visible_carehomes(user).filter(pk=home.pk).exists()


def parse_geometry(value) -> GEOSGeometry:
    """A GEOS geometry (from the platform's own code) or a GeoJSON geometry object from a user, in WGS84.
    A user's geometry is checked by `lib.geojson` first: never a WKT string, never another CRS, never GDAL's texts."""
    if isinstance(value, GEOSGeometry):
        geom = value
        if geom.srid is None:
            geom.srid = WGS84
    else:
        try:
            geom = geojson.to_geos(value, MAX_VERTICES)
        except geojson.GeoJSONError as exc:
            raise FeatureError({"geometry": f"无法解析几何：{exc}"}) from None
    if geom.srid != WGS84:
        raise FeatureError({"geometry": f"几何应为 WGS84（EPSG:4326），实际为 EPSG:{geom.srid}"})
    if geom.num_coords > MAX_VERTICES:
        raise FeatureError({"geometry": f"几何有 {geom.num_coords} 个顶点，超过上限 {MAX_VERTICES}：请简化后再提交"})
    if not geom.empty:
        # A point's coordinates are its extent (most features; GEOS's envelope costs ~0.1 ms in a pull of 10,000)
        xmin, ymin, xmax, ymax = (geom.x, geom.y) * 2 if isinstance(geom, Point) else geom.extent
        if not all(math.isfinite(v) for v in (xmin, ymin, xmax, ymax)) or not (
            -180 <= xmin <= xmax <= 180 and -90 <= ymin <= ymax <= 90
        ):
            raise FeatureError({"geometry": "坐标超出经纬度范围（经度 −180 至 180，纬度 −90 至 90）"})
    if geom.hasz:  # site plans are flat: a height (from a GPS or a CAD export) is dropped, never stored
        writer = WKBWriter(dim=2)
        geom = GEOSGeometry(writer.write(geom), srid=WGS84)
    return geom


def clean_geometry(layer: Layer, geom: GEOSGeometry, home: CareHome) -> tuple[GEOSGeometry, str]:
    """Returns the geometry to store and a note when it was repaired; raises FeatureError when refused."""
    geom, note = _shape(layer, geom)
    [(inside, distance)] = placements([(geom, home.pk)])
    _refuse_placement(inside, distance, home)
    return geom, note


def _shape(layer: Layer, geom: GEOSGeometry) -> tuple[GEOSGeometry, str]:
    """The checks of a geometry on its own: not empty, the layer's type, valid (or repaired when unambiguous)."""
    note = ""
    if geom.empty:
        raise FeatureError({"geometry": "几何为空"})
    if geom.geom_type.startswith("Multi") and len(geom) == 1 and geom[0].geom_type in layer.geometry:
        geom = geom[0]  # a one-part multi geometry is unambiguous
        geom.srid = WGS84
    if geom.geom_type not in layer.geometry:
        allowed = "、".join(layer.geometry)
        raise FeatureError(
            {"geometry": f"{layer.title}的几何类型应为 {allowed}，实际为 {geom.geom_type}"}, "wrong_type"
        )
    if not geom.valid:
        reason = geom.valid_reason
        repaired = _unambiguous_repair(geom)
        if repaired is None:
            raise FeatureError({"geometry": f"几何无效且无法唯一修复：{reason}"}, "invalid_geometry")
        geom, note = repaired, f"几何已自动修复（{reason}）"
    return geom, note


def placements(items: list[tuple[GEOSGeometry, int]]) -> list[tuple[bool, float | None]]:
    """For each (geometry, home id): inside the district, and metres to the home's position (None: home unlocated).
    One statement for any number of geometries (a field pull brings thousands)."""
    if not items:
        return []
    with connection.cursor() as cur:
        cur.execute(
            """
            WITH district AS (SELECT ST_Union(boundary) AS b FROM carehomes_subdistrict)
            SELECT COALESCE(ST_Covers(d.b, ST_GeomFromEWKB(t.w)), false),
                   ST_Distance(ST_GeomFromEWKB(t.w)::geography, h.location::geography)
            FROM unnest(%s::bytea[], %s::bigint[]) WITH ORDINALITY AS t(w, home, i)
            CROSS JOIN district d LEFT JOIN carehomes_carehome h ON h.id = t.home
            ORDER BY t.i
            """,
            [[bytes(g.ewkb) for g, _ in items], [home for _, home in items]],
        )
        return cur.fetchall()


def _refuse_placement(inside: bool, distance: float | None, home: CareHome) -> None:
    if not inside:
        raise FeatureError({"geometry": "几何超出滨海新区范围"}, "outside_district")
    limit = settings.LAYER_MAX_DISTANCE_M
    if distance is None:
        raise FeatureError(
            {"geometry": f"“{home.name}”尚未定位：请先在“待定位”列表中标定机构位置，再绘制图层"}, "unlocated"
        )
    if distance > limit:
        raise FeatureError({"geometry": f"距所属养老机构 {distance:.0f} 米，超过允许的 {limit} 米"}, "too_far")


def near_duplicate(layer: Layer, home: CareHome, geom: GEOSGeometry) -> dict | None:
    """The existing feature of the same layer and home that `geom` probably repeats, with how close it is; None when
    there is none. One query over that home's features of the layer (a site plan holds a few dozen)."""
    table = layer.get_model()._meta.db_table
    column = layer.geometry_field
    with connection.cursor() as cur:
        cur.execute(
            f"""
            WITH new AS (SELECT ST_GeomFromEWKB(%(g)s) AS g)
            SELECT f.id, ST_Distance(f.{column}::geography, new.g::geography),
                   ST_HausdorffDistance(ST_Transform(f.{column}, {UTM50N}), ST_Transform(new.g, {UTM50N})),
                   CASE WHEN GeometryType(new.g) = 'POLYGON' THEN
                        ST_Area(ST_Transform(ST_Intersection(f.{column}, new.g), {UTM50N}))
                        / NULLIF(LEAST(ST_Area(ST_Transform(f.{column}, {UTM50N})),
                                       ST_Area(ST_Transform(new.g, {UTM50N}))), 0) END
            FROM {table} f, new
            WHERE f.care_home_id = %(home)s AND GeometryType(f.{column}) = GeometryType(new.g)
              AND ST_DWithin(f.{column}::geography, new.g::geography, %(reach)s)
            """,
            {"g": bytes(geom.ewkb), "home": home.pk, "reach": DUPLICATE_LINE_M},
        )
        rows = cur.fetchall()
    kind = geom.geom_type
    found = []  # (closeness, id, metres apart, share overlapping, text): the closest twin is named
    for pk, distance, hausdorff, overlap in rows:
        if kind == "Point" and distance <= DUPLICATE_POINT_M:
            found.append((distance, pk, distance, None, f"{distance:.1f} 米内已有一个{layer.title}"))
        elif kind == "LineString" and hausdorff <= DUPLICATE_LINE_M:
            text = f"已有一条几乎相同的{layer.title}（相差不超过 {hausdorff:.1f} 米）"
            found.append((hausdorff, pk, hausdorff, None, text))
        elif kind == "Polygon" and overlap is not None and overlap >= DUPLICATE_OVERLAP:
            found.append((-overlap, pk, 0.0, overlap, f"与已有的{layer.title}重叠 {overlap:.0%}"))
    if not found:
        return None
    _, pk, metres, overlap, text = min(found)
    return {"id": pk, "distance_m": round(metres, 2), "overlap": round(overlap, 3) if overlap else None, "text": text}


def _unambiguous_repair(geom: GEOSGeometry) -> GEOSGeometry | None:
    """A repair is taken only when it cannot change what was drawn: exactly one polygon of the same area comes out and
    everything else GEOS split off has no area (a spike, a doubled-back edge). A bow-tie becomes two polygons:
    which one was meant is a guess, so it is refused."""
    if geom.geom_type != "Polygon":
        return None
    repaired = geom.make_valid()
    parts = list(repaired) if repaired.geom_type in ("GeometryCollection", "MultiPolygon") else [repaired]
    polygons = [p for p in parts if p.geom_type == "Polygon"]
    rest_has_area = any(
        p.geom_type not in ("Polygon", "LineString", "MultiLineString", "Point", "MultiPoint") for p in parts
    )
    drawn = abs(_signed_area(geom))
    if len(polygons) != 1 or rest_has_area or abs(polygons[0].area - drawn) > 1e-3 * drawn:
        return None
    result = polygons[0]
    result.srid = WGS84
    return result


def _signed_area(polygon: GEOSGeometry) -> float:
    ring = polygon.exterior_ring.coords
    return sum(x1 * y2 - x2 * y1 for (x1, y1), (x2, y2) in zip(ring, ring[1:], strict=False)) / 2


def clean_attributes(layer: Layer, data: dict, *, partial: bool = False) -> dict:
    out, errors = {}, {}
    for f in layer.editable_fields:
        if f.name not in data:
            if f.required and not partial:
                errors[f.name] = f"{f.label}为必填项"
            continue
        raw = data[f.name]
        empty = raw is None or (isinstance(raw, str) and not raw.strip())
        if empty:
            if f.required:
                errors[f.name] = f"{f.label}为必填项"
            else:
                out[f.name] = "" if f.kind in ("text", "choice") else None
            continue
        try:
            out[f.name] = _parse(f, raw)
        except ValueError as exc:
            errors[f.name] = f"{f.label}：{exc}"
    for key, label, limit in (("note", "备注", MAX_NOTE), ("surveyed_by", "调查人", 50)):
        if key in data:
            text = str(data[key] or "").strip()
            if len(text) > limit:
                errors[key] = f"{label}不能超过{limit}个字（现有{len(text)}个）"
            out[key] = text
    if data.get("surveyed_on"):
        try:
            out["surveyed_on"] = date.fromisoformat(str(data["surveyed_on"]))
        except ValueError:
            errors["surveyed_on"] = "调查日期格式应为 YYYY-MM-DD"
    unknown = set(data) - {f.name for f in layer.fields} - {"note", "surveyed_by", "surveyed_on"}
    for name in sorted(unknown):
        errors[name] = "未知字段"
    if errors:
        raise FeatureError(errors)
    return out


def _parse(f, raw):
    if f.kind == "text":
        text = str(raw).strip()
        if len(text) > 200:
            raise ValueError("不能超过200个字")
        return text
    if f.kind == "choice":
        if str(raw) not in f.values.codes:
            raise ValueError(
                f"“{str(raw)[:40]}”不是有效值，可选：{'、'.join(f'{c}（{label}）' for c, label in f.values.values)}"
            )
        return str(raw)
    if f.kind == "bool":
        if isinstance(raw, bool):
            return raw
        if str(raw).lower() in ("true", "1", "yes", "on", "是"):
            return True
        if str(raw).lower() in ("false", "0", "no", "off", "否"):
            return False
        raise ValueError("应为是或否")
    if f.kind in ("int", "decimal"):
        try:
            number = Decimal(str(raw))
        except InvalidOperation:
            raise ValueError(f"应为数字，实际为“{str(raw)[:40]}”") from None
        if not number.is_finite():
            raise ValueError("应为有限数字")
        if f.kind == "int" and number != number.to_integral_value():
            raise ValueError("应为整数")
        if f.min is not None and number < Decimal(str(f.min)):
            raise ValueError(f"不能小于 {f.min:g}")
        if f.max is not None and number > Decimal(str(f.max)):
            raise ValueError(f"不能大于 {f.max:g}")
        return int(number) if f.kind == "int" else number.quantize(Decimal("0.01"))
    if f.kind == "date":
        try:
            return date.fromisoformat(str(raw))
        except ValueError:
            raise ValueError("日期格式应为 YYYY-MM-DD") from None
    raise ValueError(f"字段类型 {f.kind} 不可编辑")


def _compute(layer: Layer, feature) -> None:
    geom = getattr(feature, layer.geometry_field)
    if layer.key == "evacuation_route":
        with connection.cursor() as cur:
            cur.execute("SELECT ST_Length(ST_GeomFromEWKB(%s)::geography)", [geom.ewkb])
            feature.length_m = Decimal(cur.fetchone()[0]).quantize(Decimal("0.01"))
    if layer.key == "ebike_area":
        from .models import Building

        with connection.cursor() as cur:
            cur.execute(
                f"SELECT MIN(ST_Distance(area::geography, ST_GeomFromEWKB(%s)::geography)) FROM {Building._meta.db_table} "
                "WHERE care_home_id = %s",
                [geom.ewkb, feature.care_home_id],
            )
            distance = cur.fetchone()[0]
        if distance is not None:  # computed where buildings exist, else the entered value stays
            feature.distance_to_building_m = Decimal(distance).quantize(Decimal("0.01"))


def save_new_features(layer: Layer, items: list[dict], *, by) -> tuple[list, dict[int, FeatureError]]:
    """Creates many new features at once (a field pull): the same checks as save_feature — permission, the catalogue's
    attribute rules (which the model is built from, so the model's own validation adds nothing), geometry type and
    repair, inside the district and near the home — with the placement checked in one statement and the rows written
    in bulk. `items`: dicts with home, geometry, attributes and uuid. Returns (features, errors by item index); when any
    item is refused nothing is written."""
    if not layer.owned_here:
        return [], {
            i: FeatureError({"permission": f"{layer.title}只能通过其业务流程修改"}, "read_only")
            for i in range(len(items))
        }
    model = layer.get_model()
    homes = {item["home"].pk for item in items}
    editable = (
        set(visible_carehomes(by).filter(pk__in=homes).values_list("pk", flat=True))
        if role_of(by) in layer.edit_roles
        else set()
    )
    errors: dict[int, FeatureError] = {}
    checked: list[tuple[int, dict, GEOSGeometry, str]] = []
    for i, item in enumerate(items):
        home = item["home"]
        if home.pk not in editable:
            errors[i] = FeatureError({"permission": f"您无权编辑该养老机构的{layer.title}"}, "forbidden")
            continue
        problems, values, geom, note, code = {}, {}, None, "", "invalid"
        try:
            values = clean_attributes(layer, item.get("attributes") or {})
        except FeatureError as exc:
            problems.update(exc.errors)
        try:
            geom, note = (
                _shape(layer, parse_geometry(item["geometry"])) if item.get("geometry") is not None else (None, "")
            )
            if geom is None:
                problems["geometry"] = "请绘制几何"
        except FeatureError as exc:
            problems.update(exc.errors)
            code = exc.code
        if problems:
            errors[i] = FeatureError(problems, code)
        else:
            checked.append((i, values, geom, note))
    for (i, _values, _geom, _note), (inside, distance) in zip(
        checked, placements([(g, items[i]["home"].pk) for i, _v, g, _n in checked]), strict=True
    ):
        try:
            _refuse_placement(inside, distance, items[i]["home"])
        except FeatureError as exc:
            errors[i] = exc
    if errors:
        return [], errors
    features = []
    for i, values, geom, note in checked:
        item = items[i]
        feature = model(
            created_by=by, updated_by=by, care_home=item["home"], **({"uuid": item["uuid"]} if item.get("uuid") else {})
        )
        setattr(feature, layer.geometry_field, geom)
        for name, value in values.items():
            setattr(feature, name, value)
        _compute(layer, feature)
        feature.repair_note = note
        features.append(feature)
    with transaction.atomic():
        _copy_in(model, features)
    return features, {}


def _copy_in(model, objs: list) -> None:
    """New features written with COPY, then given their ids (looked up by uuid)."""
    copy_in(model, objs)
    with connection.cursor() as cur:
        cur.execute(f"SELECT uuid, id FROM {model._meta.db_table} WHERE uuid = ANY(%s)", [[str(o.uuid) for o in objs]])
        ids = {str(u): pk for u, pk in cur.fetchall()}
    for obj in objs:
        obj.pk = ids[str(obj.uuid)]
        obj._state.adding = False


def save_feature(
    layer: Layer,
    *,
    by,
    home: CareHome | None = None,
    geometry=None,
    attributes: dict | None = None,
    instance=None,
    expected_updated_at=None,
    uuid=None,
    check_duplicates: bool = False,
):
    """Creates (instance=None) or updates a feature; a partial update may give only attributes or only geometry.
    With `expected_updated_at` (the version the editor loaded), a feature changed since by someone else is refused
    (code "stale"): the check runs under the row lock, so of parallel edits from one version exactly one wins.
    With `check_duplicates`, a new feature that probably repeats one already drawn is refused (code "duplicate", the
    other one in `detail`) so the editor can look before saving it anyway."""
    if not layer.owned_here:
        raise FeatureError({"permission": f"{layer.title}只能通过其业务流程修改"}, "read_only")
    model = layer.get_model()
    home = home or (instance.care_home if instance is not None else None)
    if home is None:
        raise FeatureError({"care_home": "请指定养老机构"})
    if not can_edit(by, layer, home):
        raise FeatureError({"permission": f"您无权编辑该养老机构的{layer.title}"}, "forbidden")
    if instance is not None and instance.care_home_id != home.pk and not can_edit(by, layer, instance.care_home):
        raise FeatureError({"permission": "您无权移动该要素"}, "forbidden")
    errors, note, code, values = {}, "", "invalid", {}
    try:
        values = clean_attributes(layer, attributes or {}, partial=instance is not None)
    except FeatureError as exc:
        errors.update(exc.errors)
    geom = None
    if geometry is not None:
        try:
            geom, note = clean_geometry(layer, parse_geometry(geometry), home)
        except FeatureError as exc:
            errors.update(exc.errors)
            code = exc.code
    elif instance is None:
        errors["geometry"] = "请绘制几何"
    if errors:
        raise FeatureError(errors, code)
    if check_duplicates and instance is None and (twin := near_duplicate(layer, home, geom)) is not None:
        raise FeatureError({"geometry": f"可能重复：{twin['text']}"}, "duplicate", {"duplicate_of": twin})
    with transaction.atomic():
        feature = instance if instance is not None else model(created_by=by, **({"uuid": uuid} if uuid else {}))
        if instance is not None:
            feature = model.objects.select_for_update().get(pk=instance.pk)
            _check_version(layer, feature, expected_updated_at)
        feature.care_home = home
        feature.updated_by = by
        if geom is not None:
            setattr(feature, layer.geometry_field, geom)
        for name, value in values.items():
            setattr(feature, name, value)
        _compute(layer, feature)
        try:
            feature.full_clean(exclude=["uuid", "created_by", "updated_by"])
        except ValidationError as exc:
            raise FeatureError(exc.message_dict) from None
        feature.save()
    feature.repair_note = note
    return feature


def delete_feature(layer: Layer, feature, *, by, expected_updated_at=None) -> None:
    if not layer.owned_here or not can_edit(by, layer, feature.care_home):
        raise FeatureError({"permission": f"您无权删除该{layer.title}"}, "forbidden")
    with transaction.atomic():
        locked = layer.get_model().objects.select_for_update().filter(pk=feature.pk).first()
        if locked is None:
            return  # already gone: deleting twice is not an error
        _check_version(layer, locked, expected_updated_at)
        locked.delete()


def _check_version(layer: Layer, current, expected) -> None:
    if expected is not None and current.updated_at != expected:
        raise FeatureError(
            {
                "version": f"该{layer.title}已被他人修改（您打开的版本：{timezone.localtime(expected):%Y-%m-%d %H:%M:%S}，"
                f"当前版本：{timezone.localtime(current.updated_at):%Y-%m-%d %H:%M:%S}），请查看最新内容后重新修改"
            },
            "stale",
        )
