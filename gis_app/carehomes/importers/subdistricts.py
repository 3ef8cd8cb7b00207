"""One importer core for 街镇 boundaries, used by `manage.py import_subdistricts` (and any upload form).

Reads GeoJSON, Shapefile or GeoPackage through GDAL, reprojects to WGS84, matches each feature to a 街镇 by code,
then by name, and reports what matched, what did not and why. Writes nothing unless commit=True, and then
everything in one transaction, followed by re-assigning every care home to the 街镇 that now contains it.

The file's CRS is only ever *identified* as an EPSG code; the transformation is built from that code, never from
the file's own SRS text (GDAL 3.6 cannot stop an SRS definition from reaching files or the network).
"""

import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from django.contrib.gis.gdal import CoordTransform, DataSource, GDALException, OGRGeometry, SpatialReference
from django.contrib.gis.geos import GEOSGeometry, MultiPolygon
from django.db import connection, transaction

from gis_app.lib.encodings import EncodingError, candidates, label
from gis_app.lib.srid import WGS84

from ..models import Subdistrict, SubdistrictKind

log = logging.getLogger(__name__)

CODE_FIELDS = ("code", "区划代码", "代码", "adcode", "xzqdm", "gb", "dm")
NAME_FIELDS = ("name", "名称", "街镇", "街镇名称", "xzqmc", "mc")
KIND_FIELDS = ("kind", "类型")
CHINA_BOUNDS = (73.0, 3.0, 136.0, 54.0)


class ImportFileError(Exception):
    """The file as a whole cannot be read: nothing was imported."""


@dataclass
class FeatureResult:
    index: int
    code: str
    name: str
    subdistrict: Subdistrict | None = None
    matched_by: str = ""
    created: bool = False
    reason: str = ""
    geometry: MultiPolygon | None = None
    unchanged: bool = False


@dataclass
class SubdistrictImportReport:
    source: str
    srid: int
    features: list[FeatureResult] = field(default_factory=list)
    missing: list[Subdistrict] = field(default_factory=list)
    committed: bool = False
    homes_reassigned: int = 0
    encoding_note: str = ""

    @property
    def matched(self) -> list[FeatureResult]:
        return [f for f in self.features if f.subdistrict is not None or f.created]

    @property
    def unmatched(self) -> list[FeatureResult]:
        return [f for f in self.features if f.reason]

    @property
    def ok(self) -> bool:
        return not self.unmatched

    def as_text(self) -> str:
        lines = [
            f"文件：{self.source}（坐标系 EPSG:{self.srid}，已转换为 WGS84；{self.encoding_note or '属性编码：UTF-8'}）"
        ]
        lines.append(
            f"匹配 {len(self.matched)} 个，未匹配 {len(self.unmatched)} 个，文件中缺少 {len(self.missing)} 个街镇"
        )
        for f in self.matched:
            how = "新建" if f.created else f"按{f.matched_by}匹配" + ("（边界无变化）" if f.unchanged else "")
            lines.append(f"  ✓ 第{f.index}个要素 {f.code or '-'} {f.name or '-'} → {how}")
        for f in self.unmatched:
            lines.append(f"  ✗ 第{f.index}个要素 {f.code or '-'} {f.name or '-'}：{f.reason}")
        for s in self.missing:
            lines.append(f"  · 文件中没有：{s.code} {s.name}（保留原边界）")
        if self.committed:
            lines.append(f"已写入数据库；{self.homes_reassigned} 家养老机构的所属街镇随之更新")
        elif self.ok:
            lines.append("试运行：未写入。确认无误后加 --commit 写入")
        else:
            lines.append("存在问题，未写入任何数据")
        return "\n".join(lines)


def _pick(fields: list[str], candidates: tuple[str, ...]) -> str | None:
    lowered = {f.lower(): f for f in fields}
    for c in candidates:
        if c.lower() in lowered:
            return lowered[c.lower()]
    return None


def _normalise_code(raw) -> str:
    code = re.sub(r"\D", "", str(raw or ""))
    if len(code) == 12 and code.endswith("000"):  # 12-digit statistical codes: 120116001000
        code = code[:9]
    return code


def identify_epsg(srs: SpatialReference | None, override: int | None) -> int:
    if override:
        return override
    if srs is None:
        raise ImportFileError("文件没有坐标系信息（如缺少 .prj），请用 --srid 指定 EPSG 编码")
    try:
        srs.identify_epsg()
    except GDALException:
        pass
    code = srs.srid
    if not code:
        raise ImportFileError("无法识别文件的坐标系，请转换为有 EPSG 编码的坐标系，或用 --srid 指定")
    return int(code)


def _open_layer(path: Path, layer: str | None, encoding: str):
    # GDAL must not recode on its own (it turns GBK into mojibake when it assumes Latin-1): we decode. The driver reads
    # the option when the file is opened, so it is set for the opening only (child processes never see it).
    previous = os.environ.get("SHAPE_ENCODING")
    os.environ["SHAPE_ENCODING"] = ""
    try:
        source = DataSource(str(path), encoding=encoding)
    except GDALException as exc:
        log.warning("GDAL cannot open %s: %s", path.name, exc)  # the library's text stays in the server log
        raise ImportFileError(
            f"无法读取文件 {path.name}：不是可读的 Shapefile、GeoPackage 或 GeoJSON（文件可能不完整，或缺少 .shx/.dbf）"
        ) from None
    finally:
        if previous is None:
            del os.environ["SHAPE_ENCODING"]
        else:
            os.environ["SHAPE_ENCODING"] = previous
    if layer is not None:
        try:
            return source[layer]
        except (IndexError, KeyError, GDALException):
            raise ImportFileError(f"文件中没有图层 {layer}") from None
    return source[0]


def _first_undecodable(lyr) -> tuple[int, str] | None:
    """(feature number, field) of the first text value that does not decode, or None when all do."""
    text_fields = [name for name, kind in zip(lyr.fields, lyr.field_types, strict=True) if kind.__name__ == "OFTString"]
    for index, feature in enumerate(lyr, start=1):
        for name in text_fields:
            try:
                feature.get(name)
            except UnicodeDecodeError:
                return index, name
    return None


def open_layer(path: Path, *, layer: str | None = None, encoding: str | None = None):
    """The layer with its attributes decoded, and a sentence saying which encoding was used and why."""
    try:
        tried, why = candidates(path, encoding)
    except EncodingError as exc:
        raise ImportFileError(str(exc)) from None
    for candidate in tried:
        lyr = _open_layer(path, layer, candidate)
        bad = _first_undecodable(lyr)
        if bad is None:
            return lyr, f"属性编码：{label(candidate)}（{why}）"
    index, field = bad
    raise ImportFileError(
        f"第 {index} 个要素的字段“{field}”无法按 {'、'.join(label(c) for c in tried)} 解码。请确认文件的编码，"
        "用 --encoding 指定（如 --encoding GBK），或在 .shp 旁放一个写有编码名称的 .cpg 文件"
    )


def read_features(path: Path, *, srid: int | None = None, layer: str | None = None, encoding: str | None = None):
    lyr, encoding_note = open_layer(path, layer=layer, encoding=encoding)
    epsg = identify_epsg(lyr.srs, srid)
    try:
        transform = CoordTransform(SpatialReference(epsg), SpatialReference(WGS84))
    except GDALException:
        raise ImportFileError(f"不支持的坐标系 EPSG:{epsg}") from None
    return lyr, epsg, transform, encoding_note


def import_subdistricts(
    path: Path | str,
    *,
    commit: bool = False,
    srid: int | None = None,
    layer: str | None = None,
    create_missing: bool = False,
    approximate: bool = False,
    encoding: str | None = None,
) -> SubdistrictImportReport:
    path = Path(path)
    lyr, epsg, transform, encoding_note = read_features(path, srid=srid, layer=layer, encoding=encoding)
    fields = list(lyr.fields)
    code_field, name_field, kind_field = (
        _pick(fields, CODE_FIELDS),
        _pick(fields, NAME_FIELDS),
        _pick(fields, KIND_FIELDS),
    )
    if code_field is None and name_field is None:
        raise ImportFileError(f"找不到代码或名称字段（现有字段：{', '.join(fields) or '无'}）")
    report = SubdistrictImportReport(source=path.name, srid=epsg, encoding_note=encoding_note)
    by_code = {s.code: s for s in Subdistrict.objects.all()}
    by_name = {s.name: s for s in by_code.values()}
    claimed: dict[int, FeatureResult] = {}

    for index, feature in enumerate(lyr, start=1):
        code = _normalise_code(feature.get(code_field)) if code_field else ""
        name = str(feature.get(name_field) or "").strip() if name_field else ""
        result = FeatureResult(index=index, code=code, name=name)
        report.features.append(result)
        result.geometry, result.reason = _geometry(feature.geom, transform)
        if result.reason:
            continue
        target = by_code.get(code) if code else None
        result.matched_by = "代码" if target else ""
        if target is None and name:
            target = by_name.get(name) or _by_short_name(by_name, name)
            result.matched_by = "名称" if target else ""
        if target is None:
            if create_missing and re.fullmatch(r"\d{9}", code) and name:
                result.created = True
                kind = str(feature.get(kind_field) or "") if kind_field else ""
                result.subdistrict = Subdistrict(
                    code=code, name=name, kind=kind if kind in SubdistrictKind.values else _kind_from_name(name)
                )
            else:
                result.reason = f"未知的区划代码 {code}" if code else f"没有名为“{name}”的街镇"
            continue
        if target.pk in claimed:
            result.reason = f"与第{claimed[target.pk].index}个要素重复对应“{target.name}”"
            continue
        claimed[target.pk] = result
        result.subdistrict = target

    touched = {f.subdistrict.pk for f in report.features if f.subdistrict is not None and f.subdistrict.pk}
    report.missing = [s for s in by_code.values() if s.pk not in touched]
    if commit and report.ok:
        with transaction.atomic():
            for f in report.features:
                sub = f.subdistrict
                if (
                    sub.pk
                    and sub.boundary.equals_exact(f.geometry, 1e-9)
                    and sub.boundary_is_approximate == approximate
                    and sub.boundary_source == path.name
                ):
                    f.unchanged = True
                    continue
                sub.boundary = f.geometry
                sub.boundary_is_approximate = approximate
                sub.boundary_source = path.name
                sub.save()
            report.homes_reassigned = reassign_care_homes()
        report.committed = True
    return report


def _geometry(ogr_geom: OGRGeometry | None, transform: CoordTransform) -> tuple[MultiPolygon | None, str]:
    if ogr_geom is None:
        return None, "要素没有几何"
    geom = OGRGeometry(ogr_geom.wkb)
    try:
        geom.transform(transform)
    except GDALException as exc:
        return None, f"坐标转换失败：{exc}"
    geos = GEOSGeometry(geom.wkb, srid=WGS84)
    if geos.geom_type == "Polygon":
        geos = MultiPolygon(geos, srid=WGS84)
    if geos.geom_type != "MultiPolygon":
        return None, f"几何类型应为面（Polygon/MultiPolygon），实际为 {geos.geom_type}"
    if geos.empty:
        return None, "几何为空"
    minx, miny, maxx, maxy = geos.extent
    if minx < CHINA_BOUNDS[0] or miny < CHINA_BOUNDS[1] or maxx > CHINA_BOUNDS[2] or maxy > CHINA_BOUNDS[3]:
        return None, f"坐标超出中国范围（{minx:.4f}, {miny:.4f} – {maxx:.4f}, {maxy:.4f}），坐标系可能声明错误"
    if not geos.valid:
        return None, f"几何无效：{geos.valid_reason}"
    return geos, ""


def _by_short_name(by_name: dict[str, Subdistrict], name: str) -> Subdistrict | None:
    short = name.removesuffix("街道").removesuffix("街").removesuffix("镇")
    matches = [s for n, s in by_name.items() if n.removesuffix("街道").removesuffix("镇") == short]
    return matches[0] if len(matches) == 1 else None


def _kind_from_name(name: str) -> str:
    return SubdistrictKind.TOWN if name.endswith("镇") else SubdistrictKind.STREET


def reassign_care_homes() -> int:
    """Point-in-polygon for every home in one statement; returns how many homes changed 街镇."""
    with connection.cursor() as cur:
        cur.execute(
            """
            WITH located AS (
                SELECT h.id, (
                    SELECT s.id FROM carehomes_subdistrict s
                    WHERE ST_Covers(s.boundary, h.location) ORDER BY s.code LIMIT 1
                ) AS subdistrict_id
                FROM carehomes_carehome h WHERE h.location IS NOT NULL  -- 未定位: keeps the 街镇 it was listed under
            )
            UPDATE carehomes_carehome h SET subdistrict_id = located.subdistrict_id
            FROM located
            WHERE h.id = located.id AND h.subdistrict_id IS DISTINCT FROM located.subdistrict_id
            """
        )
        return cur.rowcount
