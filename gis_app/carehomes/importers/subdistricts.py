"""One importer core for 街镇 boundaries, used by `manage.py import_subdistricts` (and any upload form).

Reads GeoJSON, Shapefile or GeoPackage through GDAL, reprojects to WGS84, matches each feature to a 街镇 by code,
then by name, and reports what matched, what did not and why. Writes nothing unless commit=True, and then
everything in one transaction, followed by re-assigning every care home to the 街镇 that now contains it.

The file's CRS is only ever *identified* as an EPSG code; the transformation is built from that code, never from
the file's own SRS text (GDAL 3.6 cannot stop an SRS definition from reaching files or the network).
"""

import re
from dataclasses import dataclass, field
from pathlib import Path

from django.contrib.gis.gdal import CoordTransform, DataSource, GDALException, OGRGeometry, SpatialReference
from django.contrib.gis.geos import GEOSGeometry, MultiPolygon
from django.db import connection, transaction

from gis_app.lib.srid import WGS84

from ..models import Subdistrict, SubdistrictKind

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
        lines = [f"文件：{self.source}（坐标系 EPSG:{self.srid}，已转换为 WGS84）"]
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


def read_features(path: Path, *, srid: int | None = None, layer: str | None = None):
    try:
        source = DataSource(str(path))
    except GDALException as exc:
        raise ImportFileError(f"无法读取文件 {path.name}：{exc}") from None
    if layer is not None:
        try:
            lyr = source[layer]
        except (IndexError, KeyError, GDALException):
            raise ImportFileError(f"文件中没有图层 {layer}") from None
    else:
        lyr = source[0]
    epsg = identify_epsg(lyr.srs, srid)
    try:
        transform = CoordTransform(SpatialReference(epsg), SpatialReference(WGS84))
    except GDALException:
        raise ImportFileError(f"不支持的坐标系 EPSG:{epsg}") from None
    return lyr, epsg, transform


def import_subdistricts(
    path: Path | str,
    *,
    commit: bool = False,
    srid: int | None = None,
    layer: str | None = None,
    create_missing: bool = False,
    approximate: bool = False,
) -> SubdistrictImportReport:
    path = Path(path)
    lyr, epsg, transform = read_features(path, srid=srid, layer=layer)
    fields = list(lyr.fields)
    code_field, name_field, kind_field = (
        _pick(fields, CODE_FIELDS),
        _pick(fields, NAME_FIELDS),
        _pick(fields, KIND_FIELDS),
    )
    if code_field is None and name_field is None:
        raise ImportFileError(f"找不到代码或名称字段（现有字段：{', '.join(fields) or '无'}）")
    report = SubdistrictImportReport(source=path.name, srid=epsg)
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
                FROM carehomes_carehome h
            )
            UPDATE carehomes_carehome h SET subdistrict_id = located.subdistrict_id
            FROM located
            WHERE h.id = located.id AND h.subdistrict_id IS DISTINCT FROM located.subdistrict_id
            """
        )
        return cur.rowcount
