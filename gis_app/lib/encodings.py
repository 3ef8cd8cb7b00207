"""Which text encoding a GIS file's attributes are in. Offices in China export Shapefiles in GBK, often without a .cpg
beside them; GDAL then hands the bytes through undecoded. We decide ourselves, and say what we decided:

1. the user's --encoding; 2. the .cpg file; 3. a Chinese language driver id (LDID) in the DBF header; 4. UTF-8 if every
value decodes as UTF-8, else GB18030 (a superset of GBK and GB2312). A Western LDID (GDAL and ArcGIS write 0x57 for any
"ANSI" file, Chinese ones included) is tried only after those two: Windows-1252 decodes almost any bytes, as mojibake."""

import codecs
from pathlib import Path

# LDIDs seen in Chinese and Western exports (dBASE language driver ids, byte 29 of the .dbf header).
LDID = {0x4D: "gb18030", 0x7A: "gb18030", 0x78: "big5", 0x57: "cp1252", 0x03: "cp1252", 0x01: "cp437", 0x02: "cp850"}
CPG_ALIASES = {
    "936": "gb18030",
    "cp936": "gb18030",
    "gbk": "gb18030",
    "gb2312": "gb18030",
    "gb18030": "gb18030",
    "utf-8": "utf-8",
    "utf8": "utf-8",
    "65001": "utf-8",
    "big5": "big5",
    "950": "big5",
}
LABELS = {"utf-8": "UTF-8", "gb18030": "GB18030（兼容 GBK、GB2312）", "big5": "Big5", "cp1252": "Windows-1252"}


class EncodingError(ValueError):
    pass


def normalise(name: str) -> str:
    key = name.strip().lower()
    if key in CPG_ALIASES:
        return CPG_ALIASES[key]
    try:
        return codecs.lookup(key).name
    except LookupError:
        raise EncodingError(f"不认识的编码“{name}”：可用 UTF-8、GBK、GB18030、Big5 等") from None


WESTERN = {"cp1252", "cp437", "cp850"}


def candidates(path: Path, given: str | None) -> tuple[list[str], str]:
    """The encodings to try in order, and why."""
    if given:
        return [normalise(given)], "按 --encoding 指定"
    found, why = declared(path)
    if found is None:
        return ["utf-8", "gb18030"], "自动识别"
    if found in WESTERN:
        return ["utf-8", "gb18030", found], "自动识别"
    return [found], why


def declared(path: Path) -> tuple[str | None, str]:
    """(encoding, where it was found) for a Shapefile from its .cpg or the DBF's LDID; (None, "") when not declared."""
    if path.suffix.lower() != ".shp":
        return None, ""
    for cpg in (path.with_suffix(".cpg"), path.with_suffix(".CPG")):
        if cpg.exists():
            text = cpg.read_text(errors="replace").strip()
            if text:
                return normalise(text), f"{cpg.name} 声明"
    for dbf in (path.with_suffix(".dbf"), path.with_suffix(".DBF")):
        if dbf.exists():
            with dbf.open("rb") as f:
                header = f.read(32)
            if len(header) == 32 and header[29] in LDID:
                return LDID[header[29]], "DBF 文件头语言标识"
    return None, ""


def label(encoding: str) -> str:
    return LABELS.get(encoding, encoding)
