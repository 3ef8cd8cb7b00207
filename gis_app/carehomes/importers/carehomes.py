"""One importer core for the care-home registry: `manage.py import_carehomes` and the bureau's web upload.

Reads .xlsx or .csv with Chinese headers (the downloadable template), converts coordinates from the declared system
to WGS84, validates every row and reports each bad row by its spreadsheet row number and reason. Nothing is written
unless every row passes (or skip_bad=True); then all rows are upserted by credit code in one transaction, so
importing the same file twice changes nothing.
"""

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime

from django.contrib.gis.geos import Point
from django.db import transaction
from openpyxl import Workbook

from gis_app.lib.coords import SYSTEMS, to_wgs84
from gis_app.lib.sheets import HEADER_SCAN_ROWS, SheetError, clean_header, fold, parse_count, parse_degrees, read_table
from gis_app.lib.srid import WGS84

from ..credit_code import credit_code_error, normalise
from ..models import (
    CareHome,
    CareHomeStatus,
    CoordinateSystem,
    LocationStatus,
    Ownership,
    SafetyServiceProvider,
    Subdistrict,
)

log = logging.getLogger(__name__)

# header -> (field key, required)
COLUMNS: dict[str, tuple[str, bool]] = {
    "机构名称": ("name", True),
    "统一社会信用代码": ("credit_code", True),
    "地址": ("address", True),
    "经度": ("lon", False),  # a list with addresses only is imported as 未定位 (placed later on the 待定位 page)
    "纬度": ("lat", False),
    "坐标系": ("crs", False),
    "所属街镇": ("subdistrict", False),  # used for homes without coordinates; with coordinates the position decides
    "床位数": ("beds", False),
    "在院老人数": ("residents", False),
    "失能老人数": ("residents_full_care", False),
    "性质": ("ownership", False),
    "运营单位": ("operator", False),
    "法定代表人": ("legal_representative", False),
    "消防安全责任人": ("fire_safety_owner", False),
    "责任人电话": ("fire_safety_owner_phone", False),
    "消防安全管理人": ("fire_safety_manager", False),
    "管理人电话": ("fire_safety_manager_phone", False),
    "公开承诺日期": ("commitment_on", False),
    "第三方安全服务机构": ("safety_service", False),
    "状态": ("status", False),
}
# Other names offices give these columns (compared after clean_header: full-width folded, no spaces, no * markers).
ALIASES = {
    "养老机构名称": "机构名称",
    "单位名称": "机构名称",
    "名称": "机构名称",
    "机构全称": "机构名称",
    "社会信用代码": "统一社会信用代码",
    "信用代码": "统一社会信用代码",
    "统一社会信用代码证号": "统一社会信用代码",
    "详细地址": "地址",
    "机构地址": "地址",
    "住所": "地址",
    "东经": "经度",
    "北纬": "纬度",
    "床位": "床位数",
    "核定床位数": "床位数",
    "床位总数": "床位数",
    "入住老人数": "在院老人数",
    "在住老人数": "在院老人数",
    "入住人数": "在院老人数",
    "失能(全护理)老人数": "失能老人数",
    "全护理老人数": "失能老人数",
    "运营状态": "状态",
    "机构性质": "性质",
    "街镇": "所属街镇",
    "街道": "所属街镇",
    "乡镇": "所属街镇",
    "街道(镇)": "所属街镇",
    "所属街道": "所属街镇",
}
REQUIRED = {key for key, required in COLUMNS.values() if required}


def header_aliases() -> dict[str, str]:
    """cleaned header text -> field key"""
    out = {clean_header(h): key for h, (key, _) in COLUMNS.items()}
    out.update({clean_header(alias): COLUMNS[canonical][0] for alias, canonical in ALIASES.items()})
    return out


EXAMPLE_ROW = [
    "滨海新区示例养老院", "52120116MJ0000000X", "天津市滨海新区塘沽街道新港路1号", 117.68, 39.02, "WGS84", "", 100, 80, 30,
    "民办", "示例运营管理有限公司", "张三", "张三", "13800000000", "李四", "13900000000", "2020-09-01", "", "运营中",
]  # fmt: skip
CRS_ALIASES = {
    "wgs84": "wgs84", "wgs-84": "wgs84", "gps": "wgs84", "cgcs2000": "cgcs2000", "2000": "cgcs2000",
    "天地图": "cgcs2000", "gcj02": "gcj02", "gcj-02": "gcj02", "高德": "gcj02", "腾讯": "gcj02", "火星坐标": "gcj02",
    "bd09": "bd09", "bd-09": "bd09", "百度": "bd09",
}  # fmt: skip
TEXT_LIMITS = {"name": 100, "address": 200, "operator": 100, "legal_representative": 50, "fire_safety_owner": 50,
               "fire_safety_manager": 50, "fire_safety_owner_phone": 30, "fire_safety_manager_phone": 30,
               "safety_service": 100}  # fmt: skip
COMPARED_FIELDS = ("name", "address", "beds", "residents", "residents_full_care", "ownership", "operator",
                   "legal_representative", "fire_safety_owner", "fire_safety_owner_phone", "fire_safety_manager",
                   "fire_safety_manager_phone", "commitment_on", "status", "location_source")  # fmt: skip


class ImportFileError(Exception):
    """The file as a whole cannot be read (wrong type, no header, missing columns): nothing was imported."""


@dataclass
class RowError:
    row: int
    column: str
    message: str
    cell: str = ""  # e.g. "E7": where to look in the spreadsheet

    def __str__(self) -> str:
        where = (
            f"第{self.row}行"
            + (f"【{self.column}】" if self.column else "")
            + (f"（{self.cell}）" if self.cell else "")
        )
        return f"{where}：{self.message}"


@dataclass
class CareHomeImportReport:
    source: str
    crs: str
    total: int = 0
    errors: list[RowError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # how the file was read: encoding, sheet, header row, skipped totals
    created: int = 0
    updated: int = 0
    unlocated: int = 0  # rows without coordinates: imported as 未定位
    unchanged: int = 0
    skipped_rows: list[int] = field(default_factory=list)
    committed: bool = False

    @property
    def bad_rows(self) -> list[int]:
        return sorted({e.row for e in self.errors})

    def as_dict(self) -> dict:
        return {
            "source": self.source,
            "crs": self.crs,
            "total": self.total,
            "errors": [{"row": e.row, "column": e.column, "cell": e.cell, "message": e.message} for e in self.errors],
            "warnings": self.warnings,
            "notes": self.notes,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "unlocated": self.unlocated,
            "skipped_rows": self.skipped_rows,
            "committed": self.committed,
        }

    def as_text(self) -> str:
        lines = [f"文件：{self.source}（坐标系 {self.crs}），共 {self.total} 行数据"]
        lines += [f"  · {n}" for n in self.notes]
        lines += [f"  ! {w}" for w in self.warnings]
        lines += [f"  ✗ {e}" for e in self.errors]
        if self.committed:
            lines.append(f"已导入：新增 {self.created}，更新 {self.updated}，无变化 {self.unchanged}")
            if self.unlocated:
                lines.append(f"其中 {self.unlocated} 行没有坐标：机构标为“未定位”，请在“待定位”列表中标定位置")
            if self.skipped_rows:
                lines.append(f"跳过有问题的行：{', '.join(map(str, self.skipped_rows))}")
        elif self.errors:
            lines.append(f"{len(self.bad_rows)} 行有问题，未导入任何数据（修正后重新导入，或使用“跳过问题行”）")
        else:
            lines.append("校验通过（仅校验，未写入）")
        return "\n".join(lines)


def write_template(target) -> None:
    """The downloadable template: headers, one example row, a sheet explaining each column."""
    wb = Workbook()
    ws = wb.active
    ws.title = "养老机构"
    ws.append(list(COLUMNS))
    ws.append(EXAMPLE_ROW)
    ws.freeze_panes = "A2"
    for cell, header in zip(ws[1], COLUMNS, strict=True):
        ws.column_dimensions[cell.column_letter].width = max(12, len(header) * 2 + 4)
    notes = wb.create_sheet("填写说明")
    notes.append(["列", "必填", "说明"])
    explanations = {
        "坐标系": "WGS84、CGCS2000、GCJ02（高德/腾讯）或 BD09（百度）；留空则使用导入时选择的坐标系",
        "统一社会信用代码": "18位，自动校验校验位；同一代码再次导入时更新该机构",
        "性质": "公办 / 民办 / 公建民营",
        "状态": "运营中 / 停业整顿 / 已关闭",
        "公开承诺日期": "日期，如 2020-09-01",
        "第三方安全服务机构": "签约的第三方安全服务机构名称，不存在时自动新建",
        "经度": "十进制度如 117.68，或度分秒如 117°40′48″；经纬度都不填时导入为“未定位”，之后在地图上标定",
        "纬度": "十进制度如 39.02，或度分秒如 39°01′12″",
        "所属街镇": "街镇名称或区划代码；有坐标时按坐标判定，没有坐标时按此列归属",
    }
    for header, (_key, required) in COLUMNS.items():
        notes.append([header, "是" if required else "否", explanations.get(header, "")])
    notes.column_dimensions["A"].width = 20
    notes.column_dimensions["C"].width = 80
    wb.save(target)


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).replace("\u3000", " ").strip()  # the full-width space of Chinese typing


class _Row:
    def __init__(self, number: int, values: dict, report: CareHomeImportReport, cells: dict | None = None):
        self.number, self.values, self.report, self.ok = number, values, report, True
        self.cells = cells or {}  # header -> cell reference

    def error(self, column: str, message: str) -> None:
        self.report.errors.append(RowError(self.number, column, message, self.cells.get(column, "")))
        self.ok = False


def _header_of(key: str) -> str:
    return next(h for h, (k, _) in COLUMNS.items() if k == key)


def _parse_row(row: _Row, default_crs: str) -> dict | None:
    v = row.values
    out: dict = {}
    for key, raw in v.items():
        if isinstance(raw, str) and raw.lstrip().startswith("="):
            row.error(_header_of(key), "单元格含公式，请粘贴为数值后再导入")
    if not row.ok:
        return None
    for key in ("name", "address", "operator", "legal_representative", "fire_safety_owner", "fire_safety_owner_phone",
                "fire_safety_manager", "fire_safety_manager_phone", "safety_service"):  # fmt: skip
        out[key] = _text(v.get(key))
        if key in TEXT_LIMITS and len(out[key]) > TEXT_LIMITS[key]:
            row.error(_header_of(key), f"超过{TEXT_LIMITS[key]}个字")
    for key in ("name", "address"):
        if not out[key]:
            row.error(_header_of(key), "不能为空")

    code = normalise(_text(fold(v.get("credit_code"))))
    error = credit_code_error(code) if code else "不能为空"
    if error:
        row.error("统一社会信用代码", error)
    out["credit_code"] = code

    crs_text = _text(v.get("crs")).lower()
    crs = CRS_ALIASES.get(crs_text, crs_text) if crs_text else default_crs
    if crs not in SYSTEMS:
        row.error("坐标系", f"不支持的坐标系“{v.get('crs')}”（可用：WGS84、CGCS2000、GCJ02、BD09）")
    out["location_source"] = crs
    coords = {}
    out["location"] = None
    given = [key for key in ("lon", "lat") if _text(v.get(key))]
    if len(given) == 1:
        missing = "纬度" if given == ["lon"] else "经度"
        row.error(missing, "经度和纬度应同时填写（都不填则导入为“未定位”，之后在地图上标定）")
    for key, low, high in (("lon", 73.0, 136.0), ("lat", 3.0, 54.0)):
        if len(given) < 2:
            break
        try:
            coords[key] = parse_degrees(v.get(key))
        except ValueError as exc:
            row.error(_header_of(key), str(exc))
            continue
        if not low <= coords[key] <= high:
            row.error(_header_of(key), f"{coords[key]} 超出中国范围（{low}–{high}），请检查经纬度是否填反")
    if len(coords) == 2 and crs in SYSTEMS:
        lon, lat = to_wgs84(coords["lon"], coords["lat"], crs)
        out["location"] = Point(lon, lat, srid=WGS84)

    for key in ("beds", "residents", "residents_full_care"):
        text = _text(v.get(key))
        if not text:
            out[key] = 0
            continue
        try:
            out[key] = parse_count(v.get(key))
        except ValueError:
            row.error(_header_of(key), f"应为非负整数，实际为“{text}”")
    if row.ok and out["residents_full_care"] > out["residents"]:
        row.error("失能老人数", "不能超过在院老人数")

    for key, enum, default in (("ownership", Ownership, Ownership.PRIVATE), ("status", CareHomeStatus,
                                                                            CareHomeStatus.OPERATING)):  # fmt: skip
        text = _text(v.get(key))
        by_label = {str(c.label): c.value for c in enum} | {c.value: c.value for c in enum}
        if not text:
            out[key] = default
        elif text in by_label:
            out[key] = by_label[text]
        else:
            row.error(_header_of(key), f"“{text}”不是有效值（可用：{'、'.join(str(c.label) for c in enum)}）")

    raw_date = v.get("commitment_on")
    if isinstance(raw_date, datetime):
        out["commitment_on"] = raw_date.date()
    elif isinstance(raw_date, date):
        out["commitment_on"] = raw_date
    elif _text(raw_date):
        text = _text(fold(raw_date)).replace("/", "-").replace(".", "-").replace("年", "-").replace("月", "-")
        text = text.removesuffix("日")
        try:
            out["commitment_on"] = date.fromisoformat("-".join(p.zfill(2) for p in text.split("-")))
        except ValueError:
            row.error("公开承诺日期", f"日期格式应为 2020-09-01，实际为“{_text(raw_date)}”")
    else:
        out["commitment_on"] = None
    return out if row.ok else None


def import_carehomes(
    data: bytes,
    filename: str,
    *,
    crs: str = "wgs84",
    commit: bool = True,
    skip_bad: bool = False,
    demo: bool = False,
    sheet: str | None = None,
    encoding: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> CareHomeImportReport:
    crs = CRS_ALIASES.get(crs.lower(), crs.lower())
    if crs not in SYSTEMS:
        raise ImportFileError(f"不支持的坐标系“{crs}”（可用：WGS84、CGCS2000、GCJ02、BD09）")
    report = CareHomeImportReport(source=filename, crs=CoordinateSystem(crs).label)
    aliases = header_aliases()
    try:
        table = read_table(data, filename, aliases=aliases, required=REQUIRED, sheet=sheet, encoding=encoding)
    except SheetError as exc:
        raise ImportFileError(str(exc)) from None
    report.notes += table.notes
    keys, headers = [], {}
    for index, h in enumerate(table.header):
        key = aliases.get(h) or aliases.get(re.sub(r"\(.*?\)$", "", h))
        if key is not None and key in keys:
            report.warnings.append(f"“{h}”列重复（{table.cell(table.header_row, index)}），只读第一列")
            key = None
        keys.append(key)
        if key is not None:
            headers[index] = _header_of(key)
        elif h:
            report.warnings.append(f"忽略未知列“{h}”")
    present = set(keys)
    missing = [h for h, (k, required) in COLUMNS.items() if required and k not in present]
    if missing:
        raise ImportFileError(
            f"缺少必需的列：{'、'.join(missing)}（在前{HEADER_SCAN_ROWS}行中没有找到含这些列名的表头行；请使用导入模板）"
        )

    body = table.rows
    report.total = len(body)
    subdistricts = {s.name: s for s in Subdistrict.objects.all()}
    subdistricts.update({s.code: s for s in subdistricts.values()})
    parsed: list[tuple[int, dict]] = []
    seen_codes: dict[str, int] = {}
    for i, (number, values) in enumerate(body, start=1):
        cells = {headers[j]: table.cell(number, j) for j in headers}
        row = _Row(number, {k: val for k, val in zip(keys, values, strict=False) if k}, report, cells)
        out = _parse_row(row, crs)
        if out is not None:
            if out["credit_code"] in seen_codes:
                row.error("统一社会信用代码", f"与第{seen_codes[out['credit_code']]}行重复")
            else:
                seen_codes[out["credit_code"]] = number
                _place(row, out, subdistricts)
        if row.ok:
            parsed.append((number, out))
        if progress:
            progress(i, len(body) * 2)

    report.skipped_rows = report.bad_rows if skip_bad else []
    if not commit or (report.errors and not skip_bad):
        return report
    with transaction.atomic():
        providers: dict[str, SafetyServiceProvider] = {}
        for i, (_number, out) in enumerate(parsed, start=1):
            _upsert(out, report, providers, demo)
            if progress:
                progress(len(body) + i, len(body) * 2)
    report.committed = True
    return report


def _place(row: _Row, out: dict, subdistricts: dict) -> None:
    """The 街镇 of a row: where its coordinates fall; for a row without coordinates, the 所属街镇 column (name or code)."""
    listed_text = _text(fold(row.values.get("subdistrict")))
    listed = subdistricts.get(listed_text) if listed_text else None
    if listed_text and listed is None:
        row.error("所属街镇", f"没有名为“{listed_text}”的街镇（填写街镇名称或区划代码）")
        return
    location = out["location"]
    if location is None:
        out["subdistrict"] = listed
        row.report.unlocated += 1
        return
    out["subdistrict"] = Subdistrict.objects.containing(location).first()
    if out["subdistrict"] is None:
        row.error("经度", f"坐标（{location.x:.6f}, {location.y:.6f}）不在滨海新区任何街镇内")
    elif listed is not None and listed != out["subdistrict"]:
        row.report.warnings.append(
            f"第{row.number}行：坐标位于{out['subdistrict'].name}，表中填写{listed.name}，以坐标为准"
        )


def _upsert(out: dict, report: CareHomeImportReport, providers: dict, demo: bool) -> None:
    provider_name = out.pop("safety_service")
    provider = None
    if provider_name:
        if provider_name not in providers:
            providers[provider_name], _ = SafetyServiceProvider.objects.get_or_create(name=provider_name)
        provider = providers[provider_name]
    subdistrict = out.pop("subdistrict")
    home = CareHome.objects.select_for_update().filter(credit_code=out["credit_code"]).order_by("pk").first()
    if home is None:
        if out["location"] is None:
            out.update(location_status=LocationStatus.UNLOCATED, subdistrict=subdistrict)
        CareHome.objects.create(**out, safety_service=provider, is_demo=demo)
        report.created += 1
        return
    compared = COMPARED_FIELDS
    if out["location"] is None:
        # A list without coordinates never takes away a position placed since: the home keeps it. An unplaced home
        # takes the listed 街镇.
        compared = tuple(f for f in COMPARED_FIELDS if f != "location_source")
        out.pop("location")
        if home.location is None and home.subdistrict != subdistrict:
            out["subdistrict"] = subdistrict
            compared = (*compared, "subdistrict")
    changed = [f for f in compared if getattr(home, f) != out[f]]
    if home.safety_service_id != (provider.pk if provider else None):
        changed.append("safety_service")
    if "location" in out and (home.location is None or not home.location.equals_exact(out["location"], 1e-9)):
        changed.append("location")
        home.location_status = LocationStatus.CONFIRMED  # coordinates from the office's list
        home.geocode_level = ""
    if home.is_demo != demo and demo:
        changed.append("is_demo")
    if not changed:
        report.unchanged += 1
        return
    for f in changed:
        if f == "safety_service":
            home.safety_service = provider
        elif f == "is_demo":
            home.is_demo = demo
        else:
            setattr(home, f, out[f])
    home.save()
    report.updated += 1
