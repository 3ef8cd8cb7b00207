import csv
import io
from datetime import date, datetime

import pytest
from django.core.management import CommandError, call_command
from openpyxl import Workbook, load_workbook

from gis_app.carehomes.importers.carehomes import COLUMNS, ImportFileError, import_carehomes, write_template
from gis_app.carehomes.models import CareHome, SafetyServiceProvider
from gis_app.lib.coords import wgs84_to_bd09, wgs84_to_gcj02

from .conftest import make_credit_code

HEADERS = list(COLUMNS)


def row(serial: int, **over) -> dict:
    base = {
        "机构名称": f"导入测试养老院{serial}", "统一社会信用代码": make_credit_code(serial), "地址": "天津市滨海新区测试路",
        "经度": 117.6603, "纬度": 39.0194, "床位数": 60, "在院老人数": 50, "失能老人数": 10, "性质": "民办",
        "消防安全责任人": "张三", "责任人电话": "13800000000", "公开承诺日期": "2020-09-01", "状态": "运营中",
    }  # fmt: skip
    return {**base, **over}


def xlsx(rows: list[dict], headers=HEADERS) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.append(headers)
    for r in rows:
        ws.append([r.get(h) for h in headers])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def csv_bytes(rows: list[dict], encoding="utf-8-sig") -> bytes:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=HEADERS)
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue().encode(encoding)


def test_a_good_xlsx_is_imported_and_placed_in_its_subdistrict(db):
    report = import_carehomes(xlsx([row(1), row(2, 第三方安全服务机构="测试服务公司")]), "homes.xlsx")
    assert report.committed and report.created == 2 and not report.errors
    home = CareHome.objects.get(credit_code=make_credit_code(1))
    assert home.subdistrict.code == "120116001"
    assert home.commitment_on == date(2020, 9, 1)
    assert home.location_source == "wgs84"
    assert CareHome.objects.get(credit_code=make_credit_code(2)).safety_service.name == "测试服务公司"


def test_reimporting_the_same_file_changes_nothing(db):
    data = xlsx([row(1), row(2)])
    import_carehomes(data, "homes.xlsx")
    stamps = dict(CareHome.objects.values_list("credit_code", "updated_at"))
    report = import_carehomes(data, "homes.xlsx")
    assert (report.created, report.updated, report.unchanged) == (0, 0, 2)
    assert stamps == dict(CareHome.objects.values_list("credit_code", "updated_at"))


def test_a_changed_row_updates_the_home_by_credit_code(db):
    import_carehomes(xlsx([row(1)]), "a.xlsx")
    report = import_carehomes(xlsx([row(1, 床位数=80)]), "a.xlsx")
    assert report.updated == 1
    assert CareHome.objects.get(credit_code=make_credit_code(1)).beds == 80


@pytest.mark.parametrize(("system", "forward"), [("gcj02", wgs84_to_gcj02), ("bd09", wgs84_to_bd09)])
def test_coordinates_in_gcj02_or_bd09_are_stored_as_wgs84(db, system, forward):
    lon, lat = forward(117.6603, 39.0194)
    import_carehomes(xlsx([row(1, 经度=lon, 纬度=lat)]), "a.xlsx", crs=system)
    home = CareHome.objects.get(credit_code=make_credit_code(1))
    assert (home.location.x, home.location.y) == pytest.approx((117.6603, 39.0194), abs=1e-8)
    assert home.location_source == system


def test_a_per_row_coordinate_system_column_overrides_the_declared_one(db):
    lon, lat = wgs84_to_gcj02(117.6603, 39.0194)
    import_carehomes(xlsx([row(1, 经度=lon, 纬度=lat, 坐标系="高德")]), "a.xlsx", crs="wgs84")
    home = CareHome.objects.get(credit_code=make_credit_code(1))
    assert home.location.x == pytest.approx(117.6603, abs=1e-8)


def test_every_bad_row_is_reported_with_its_row_number_and_nothing_is_imported(db):
    rows = [
        row(1),
        row(2, 统一社会信用代码="52120116000000002X"),
        row(3, 经度="abc"),
        row(4, 经度=39.02, 纬度=117.66),
        row(5, 经度=116.40, 纬度=39.90),  # Beijing: outside Binhai
        row(6, 统一社会信用代码=make_credit_code(1)),
        row(7, 机构名称='=HYPERLINK("http://evil","x")'),
        row(8, 失能老人数=99),
        row(9, 性质="私营"),
        row(10, 公开承诺日期="去年"),
        row(11, 床位数=-3),
        row(12, 坐标系="utm"),
    ]
    before = CareHome.objects.count()
    report = import_carehomes(xlsx(rows), "bad.xlsx")
    assert not report.committed
    assert CareHome.objects.count() == before
    by_row = {e.row: e for e in report.errors}
    assert sorted(by_row) == list(range(3, 14))  # header is row 1, the good row is row 2
    assert "校验位" in by_row[3].message
    assert "不是数字" in by_row[4].message
    assert "超出中国范围" in by_row[5].message and by_row[5].column == "纬度"
    assert "不在滨海新区任何街镇内" in by_row[6].message
    assert "与第2行重复" in by_row[7].message
    assert "公式" in by_row[8].message and by_row[8].column == "机构名称"
    assert "不能超过在院老人数" in by_row[9].message
    assert "不是有效值" in by_row[10].message
    assert "日期格式" in by_row[11].message
    assert "非负整数" in by_row[12].message
    assert "不支持的坐标系" in by_row[13].message


def test_skip_bad_imports_the_good_rows_only(db):
    report = import_carehomes(xlsx([row(1), row(2, 经度="x"), row(3)]), "a.xlsx", skip_bad=True)
    assert report.committed and report.created == 2 and report.skipped_rows == [3]


def test_a_real_formula_cell_in_xlsx_is_refused(db):
    wb = Workbook()
    ws = wb.active
    ws.append(HEADERS)
    values = [row(1).get(h) for h in HEADERS]
    values[HEADERS.index("床位数")] = "=SUM(1,2)"
    ws.append(values)
    buf = io.BytesIO()
    wb.save(buf)
    report = import_carehomes(buf.getvalue(), "f.xlsx")
    assert report.errors[0].column == "床位数" and "公式" in report.errors[0].message


def test_gbk_csv_from_excel_is_read(db):
    report = import_carehomes(csv_bytes([row(1)], encoding="gb18030"), "homes.csv")
    assert report.created == 1
    assert CareHome.objects.get(credit_code=make_credit_code(1)).name == "导入测试养老院1"


def test_excel_dates_and_whole_floats_are_understood(db):
    import_carehomes(xlsx([row(1, 公开承诺日期=datetime(2021, 3, 4), 床位数=60.0)]), "a.xlsx")
    home = CareHome.objects.get(credit_code=make_credit_code(1))
    assert home.commitment_on == date(2021, 3, 4) and home.beds == 60


@pytest.mark.parametrize(
    ("data", "name", "message"),
    [
        (b"", "a.xlsx", "无法读取 Excel"),
        (b"hello", "a.txt", "不支持的文件类型"),
        ("机构名称,地址\n甲,乙\n".encode(), "a.csv", "缺少必需的列"),
        (b"", "a.csv", "文件是空的"),
    ],
)
def test_unreadable_files_are_refused_whole(db, data, name, message):
    with pytest.raises(ImportFileError, match=message):
        import_carehomes(data, name)


def test_unknown_columns_are_a_warning_not_an_error(db):
    headers = [*HEADERS, "备注"]
    report = import_carehomes(xlsx([row(1)], headers=headers), "a.xlsx")
    assert report.committed and "忽略未知列“备注”" in report.warnings


def test_the_template_is_importable_after_filling_in_a_valid_code(db, tmp_path):
    path = tmp_path / "template.xlsx"
    write_template(path)
    wb = load_workbook(path)
    ws = wb["养老机构"]
    assert [c.value for c in ws[1]] == HEADERS
    ws.cell(row=2, column=2, value=make_credit_code(77))
    wb.save(path)
    report = import_carehomes(path.read_bytes(), "template.xlsx")
    assert report.created == 1, report.as_text()


def test_command_prints_the_report_and_fails_on_bad_rows(db, tmp_path, capsys):
    good = tmp_path / "good.csv"
    good.write_bytes(csv_bytes([row(1)]))
    call_command("import_carehomes", str(good))
    assert "新增 1" in capsys.readouterr().out
    bad = tmp_path / "bad.csv"
    bad.write_bytes(csv_bytes([row(2, 纬度="")]))
    with pytest.raises(CommandError, match="1 行有问题"):
        call_command("import_carehomes", str(bad))
    assert "第2行【纬度】（E2）：经度和纬度应同时填写" in capsys.readouterr().out
    call_command("import_carehomes", "--template", str(tmp_path / "t.xlsx"))
    assert (tmp_path / "t.xlsx").exists()


def test_providers_are_reused_not_duplicated(db):
    import_carehomes(xlsx([row(1, 第三方安全服务机构="甲公司"), row(2, 第三方安全服务机构="甲公司")]), "a.xlsx")
    assert SafetyServiceProvider.objects.filter(name="甲公司").count() == 1


def untidy_workbook() -> bytes:
    """A list as a 街镇 office sends it: a title row, a two-row header with merged cells and other column names,
    full-width digits and spaces, degrees-minutes-seconds, numbers as text with units, blank rows between blocks, a
    subtotal row, and a second sheet that is not a list."""
    wb = Workbook()
    ws = wb.active
    ws.title = "汇总表"
    ws.append(["滨海新区养老机构消防安全基本情况统计表（2026年11月）"])
    ws.merge_cells("A1:H1")
    ws.append(["序号", "养老机构名称", "社会信用代码", "详细地址", "坐标", None, "床位（张）", "入住老人数"])
    ws.append([None, None, None, None, "经度", "纬度", None, None])
    ws.merge_cells("E2:F2")
    for col in "ABCDGH":
        ws.merge_cells(f"{col}2:{col}3")
    ws.append(
        [
            1,
            "  海滨颐养院　",
            make_credit_code(71),
            "滨海新区海滨路1号",
            "117°39′37.1″",
            "39°01′09.8″",
            "１２０",
            "80人",
        ]
    )
    ws.append([])
    ws.append(
        [2, "新港老年公寓", make_credit_code(72), "滨海新区新港路2号", "１１７．６６０３", "39.0194", "1,020", " 95 "]
    )
    ws.append(["合计", None, None, None, None, None, 1140, 175])
    notes = wb.create_sheet("说明")
    notes.append(["本表由街镇填报"])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def test_an_untidy_office_spreadsheet_is_recognised(db):
    report = import_carehomes(untidy_workbook(), "街镇报表.xlsx")
    assert report.committed and report.created == 2, report.as_text()
    assert "表头在第3行（工作表“汇总表”）" in report.notes and "跳过合计行：第7行" in report.notes
    first = CareHome.objects.get(credit_code=make_credit_code(71))
    assert first.name == "海滨颐养院" and first.beds == 120 and first.residents == 80
    assert abs(first.location.x - (117 + 39 / 60 + 37.1 / 3600)) < 1e-9
    assert abs(first.location.y - (39 + 1 / 60 + 9.8 / 3600)) < 1e-9
    second = CareHome.objects.get(credit_code=make_credit_code(72))
    assert second.beds == 1020 and second.residents == 95 and abs(second.location.x - 117.6603) < 1e-9
    assert import_carehomes(untidy_workbook(), "街镇报表.xlsx").unchanged == 2  # idempotent


def test_a_bad_cell_in_an_untidy_spreadsheet_is_named_by_its_reference(db):
    wb = load_workbook(io.BytesIO(untidy_workbook()))
    wb["汇总表"]["E4"] = "117°75′00″"  # 75 minutes
    wb["汇总表"]["G6"] = "很多"
    buf = io.BytesIO()
    wb.save(buf)
    report = import_carehomes(buf.getvalue(), "x.xlsx")
    assert not report.committed and CareHome.objects.filter(credit_code=make_credit_code(71)).count() == 0
    assert [str(e) for e in report.errors] == [
        "第4行【经度】（E4）：分、秒应小于 60：“117°75′00″”",
        "第6行【床位数】（G6）：应为非负整数，实际为“很多”",
    ]


def test_several_lists_in_one_workbook_are_asked_for_by_name(db):
    wb = Workbook()
    for title, serial in (("塘沽", 81), ("汉沽", 82)):
        ws = wb.create_sheet(title)
        ws.append(HEADERS)
        ws.append([row(serial).get(h) for h in HEADERS])
    del wb["Sheet"]
    buf = io.BytesIO()
    wb.save(buf)
    with pytest.raises(ImportFileError, match="2 个工作表都像名单（塘沽、汉沽）"):
        import_carehomes(buf.getvalue(), "two.xlsx")
    report = import_carehomes(buf.getvalue(), "two.xlsx", sheet="汉沽")
    assert report.created == 1 and CareHome.objects.filter(credit_code=make_credit_code(82)).exists()
    with pytest.raises(ImportFileError, match="没有名为“大港”的工作表；本文件的工作表：塘沽、汉沽"):
        import_carehomes(buf.getvalue(), "two.xlsx", sheet="大港")


def test_csv_encodings_are_said_and_a_wrong_one_is_refused_with_the_line(db, tmp_path, capsys):
    data = csv_bytes([row(91), row(92)], encoding="gbk")
    assert "CSV 编码：GB18030（兼容 GBK、GB2312）（自动识别）" in import_carehomes(data, "gbk.csv", commit=False).notes
    report = import_carehomes(data, "gbk.csv", commit=False, encoding="GBK")
    assert "CSV 编码：GB18030（兼容 GBK、GB2312）（按指定）" in report.notes and not report.errors
    with pytest.raises(ImportFileError, match="第1行含有无法识别的字符（按 UTF-8 都无法解码）"):
        import_carehomes(data, "gbk.csv", encoding="utf-8")
    with pytest.raises(ImportFileError, match="不认识的编码“klingon”"):
        import_carehomes(data, "gbk.csv", encoding="klingon")
    broken = csv_bytes([row(93)]) + "\n滨海,".encode() + b"\xff\xfe\xfa,x\n"
    with pytest.raises(ImportFileError, match="第4行含有无法识别的字符"):
        import_carehomes(broken, "broken.csv")
    path = tmp_path / "gbk.csv"
    path.write_bytes(data)
    call_command("import_carehomes", str(path), "--encoding", "gbk", "--dry-run")
    assert "按指定" in capsys.readouterr().out
