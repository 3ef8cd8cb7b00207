"""Spreadsheets as offices make them: a title above the header, merged or two-row headers, full-width digits and spaces,
numbers stored as text, coordinates in degrees-minutes-seconds, blank rows between blocks, subtotal rows, several
sheets, CSV in UTF-8 or GBK. Reading only: the importers decide what a column means; this finds where the table is."""

import csv
import io
import logging
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from openpyxl import load_workbook
from openpyxl.utils import get_column_letter

from .encodings import EncodingError, label, normalise

log = logging.getLogger(__name__)
HEADER_SCAN_ROWS = 15  # a header further down than this is not a header
SUBTOTAL = re.compile(r"^(合计|小计|总计|共计)")


class SheetError(Exception):
    """The file as a whole cannot be read; the message is for the person who uploaded it."""


@dataclass
class Table:
    """Rows under the header: (spreadsheet row number, values by column index)."""

    header: list[str]  # cleaned header text per column ("" where none)
    header_row: int
    rows: list[tuple[int, list]]
    sheet: str = ""
    encoding: str = ""
    notes: list[str] = field(default_factory=list)

    def cell(self, row: int, column: int) -> str:
        return f"{get_column_letter(column + 1)}{row}"


def clean_header(value) -> str:
    """A header as people write it → comparable text: full-width folded (NFKC), no spaces or line breaks, no required
    markers (*, （必填）)."""
    if value is None:
        return ""
    text = unicodedata.normalize("NFKC", str(value))
    text = re.sub(r"\s+", "", text)
    text = re.sub(r"[*＊]|\(必填\)|\(选填\)", "", text)
    return text


def fold(value):
    """A cell's text with full-width digits, letters, spaces and punctuation folded to ASCII (NFKC) and trimmed; other
    values unchanged."""
    if isinstance(value, str):
        return unicodedata.normalize("NFKC", value).strip()
    return value


def _matcher(aliases: dict[str, str]) -> Callable[[str], str | None]:
    def match(text: str) -> str | None:
        if text in aliases:
            return aliases[text]
        bare = re.sub(r"\(.*?\)$", "", text)  # a unit after the name: 经度(°), 床位数(张)
        return aliases.get(bare)

    return match


def find_header(
    rows: list[tuple[int, list]], aliases: dict[str, str], required: set[str]
) -> tuple[int, list[str], int] | None:
    """(index in rows, header per column, how many required keys it has) of the best header among the first rows:
    the most required columns, then the most known columns. A header cell left empty takes the cell above it (a
    header merged over two rows keeps its text in the upper one; a group title such as 坐标 sits above 经度/纬度)."""
    match = _matcher(aliases)
    best, best_rank = None, (0, 0)
    for i, (_number, values) in enumerate(rows[:HEADER_SCAN_ROWS]):
        cells = [clean_header(v) for v in values]
        if i > 0:
            above = [clean_header(v) for v in rows[i - 1][1]]
            cells = [c or (above[j] if j < len(above) and match(above[j]) else "") for j, c in enumerate(cells)]
        keys = {match(c) for c in cells} - {None}
        rank = (len(keys & required), len(keys))
        if rank[0] and rank > best_rank:
            best, best_rank = (i, cells, rank[0]), rank
    return best


def _xlsx(data: bytes, filename: str, sheet: str | None, probe: Callable[[list], bool]) -> tuple[str, list]:
    try:
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    except Exception as exc:  # noqa: BLE001 - openpyxl raises many kinds for a broken file
        log.warning("openpyxl cannot open %s: %r", filename, exc)  # the library's text stays in the server log
        raise SheetError(
            "无法读取 Excel 文件：不是有效的 .xlsx 文件（可能已损坏，或是改了扩展名的 .xls/.csv，请在 Excel 中另存为 .xlsx）"
        ) from None
    try:
        names = wb.sheetnames
        if sheet:
            wanted = clean_header(sheet)
            chosen = [n for n in names if clean_header(n) == wanted]
            if not chosen:
                raise SheetError(f"没有名为“{sheet}”的工作表；本文件的工作表：{'、'.join(names)}")
            name = chosen[0]
            return name, [(n, list(r)) for n, r in enumerate(wb[name].iter_rows(values_only=True), start=1)]
        candidates = []
        for name in names:
            rows = [(n, list(r)) for n, r in enumerate(wb[name].iter_rows(values_only=True), start=1)]
            if probe(rows):
                candidates.append((name, rows))
        if len(candidates) == 1 or (candidates and len(names) == 1):
            return candidates[0]
        if len(candidates) > 1:
            raise SheetError(
                f"文件中有 {len(candidates)} 个工作表都像名单（{'、'.join(n for n, _ in candidates)}）："
                "请选择要导入的工作表（网页上填写“工作表”，命令行用 --sheet）"
            )
        first = names[0]
        return first, [(n, list(r)) for n, r in enumerate(wb[first].iter_rows(values_only=True), start=1)]
    finally:
        wb.close()


def _csv(data: bytes, encoding: str | None) -> tuple[str, list]:
    if encoding:
        try:
            tried = [normalise(encoding)]
        except EncodingError as exc:
            raise SheetError(str(exc)) from None
    else:
        tried = ["utf-8", "gb18030"]
    for name in tried:
        try:
            text = data.decode("utf-8-sig" if name == "utf-8" else name)
        except UnicodeDecodeError:
            continue
        return name, [(n, row) for n, row in enumerate(csv.reader(io.StringIO(text, newline="")), start=1)]
    # say where: the first line that no candidate decodes
    for number, line in enumerate(data.split(b"\n"), start=1):
        if not any(_decodes(line, name) for name in tried):
            raise SheetError(
                f"第{number}行含有无法识别的字符（按 {'、'.join(label(t) for t in tried)} 都无法解码）："
                "请在 Excel 中“另存为 → CSV UTF-8”，或上传 .xlsx"
            )
    raise SheetError("CSV 文件编码无法识别（请保存为 UTF-8 或 GBK）")


def _decodes(line: bytes, name: str) -> bool:
    try:
        line.decode(name)
        return True
    except UnicodeDecodeError:
        return False


def read_table(
    data: bytes,
    filename: str,
    *,
    aliases: dict[str, str],
    required: set[str],
    sheet: str | None = None,
    encoding: str | None = None,
) -> Table:
    """The table of a .xlsx or .csv: its header row (found, not assumed to be row 1) and the rows under it, blank rows
    and subtotal rows (合计, 小计) left out and counted in notes."""
    suffix = Path(filename).suffix.lower()

    def probe(rows):  # a sheet holds the list when a header row has every required column
        found = find_header(rows, aliases, required)
        return found is not None and found[2] == len(required)

    notes = []
    if suffix == ".xlsx":
        if encoding:
            notes.append("Excel 文件自带编码，已忽略指定的编码")
        sheet_name, rows = _xlsx(data, filename, sheet, probe)
        used = ""
    elif suffix == ".csv":
        used, rows = _csv(data, encoding)
        sheet_name = ""
        notes.append(f"CSV 编码：{label(used)}" + ("（按指定）" if encoding else "（自动识别）"))
    else:
        raise SheetError(f"不支持的文件类型“{suffix or filename}”，请上传 .xlsx 或 .csv")
    if not rows:
        raise SheetError("文件是空的")
    found = find_header(rows, aliases, required)
    if found is None:
        found = (0, [clean_header(v) for v in rows[0][1]], 0)
    index, header, _score = found
    header_row = rows[index][0]
    if index:
        notes.append(f"表头在第{header_row}行" + (f"（工作表“{sheet_name}”）" if sheet_name else ""))
    elif sheet_name and len(rows) and sheet:
        notes.append(f"工作表“{sheet_name}”")
    body, blank, subtotal = [], 0, []
    for number, values in rows[index + 1 :]:
        texts = [str(fold(v)) for v in values if v is not None and str(v).strip()]
        if not texts:
            blank += 1
            continue
        if SUBTOTAL.match(texts[0]):
            subtotal.append(number)
            continue
        body.append((number, values))
    if subtotal:
        notes.append(f"跳过合计行：第{'、'.join(map(str, subtotal))}行")
    return Table(header=header, header_row=header_row, rows=body, sheet=sheet_name, encoding=used, notes=notes)


DMS = re.compile(
    r"""^\s*(?P<hemi>[NSEW]|东经|北纬|西经|南纬)?\s*
    (?P<d>\d{1,3}(?:\.\d+)?)\s*(?:°|度|:|\s)\s*
    (?:(?P<m>\d{1,2}(?:\.\d+)?)\s*(?:'|′|’|分|:|\s)\s*)?
    (?:(?P<s>\d{1,2}(?:\.\d+)?)\s*(?:"|″|”|''|′′|秒)?\s*)?
    (?P<hemi2>[NSEW])?\s*$""",
    re.VERBOSE | re.IGNORECASE,
)


def parse_degrees(value) -> float:
    """A longitude or latitude as offices write it: 117.7042, "１１７．７０４２", "117°42'15.3\"", "117度42分15.3秒",
    "E117°42′15.3″", "39:01:12". ValueError with a Chinese reason otherwise."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    text = str(fold(value) or "").replace(",", "")
    if not text:
        raise ValueError("不能为空")
    try:
        return float(text)
    except ValueError:
        pass
    m = DMS.match(text)
    if not m or (m.group("m") is None and m.group("s") is not None):
        raise ValueError(f"不是数字或度分秒：“{value}”")
    degrees, minutes, seconds = float(m.group("d")), float(m.group("m") or 0), float(m.group("s") or 0)
    if minutes >= 60 or seconds >= 60:
        raise ValueError(f"分、秒应小于 60：“{value}”")
    result = degrees + minutes / 60 + seconds / 3600
    hemisphere = (m.group("hemi") or m.group("hemi2") or "").upper()
    if hemisphere in ("S", "W", "南纬", "西经"):
        result = -result
    return result


def parse_count(value) -> int:
    """A non-negative whole number, also when typed as text: "1,200", "１２０", "120张", "80 人"."""
    if isinstance(value, bool):
        raise ValueError
    if isinstance(value, int | float):
        number = float(value)
    else:
        text = str(fold(value)).replace(",", "").replace(" ", "")
        text = re.sub(r"(张|人|床|个|名)$", "", text)
        number = float(text)
    if not number.is_integer() or number < 0:
        raise ValueError
    return int(number)
