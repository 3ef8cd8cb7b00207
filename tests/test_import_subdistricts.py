import json
import subprocess
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from gis_app.carehomes.importers.subdistricts import ImportFileError, import_subdistricts
from gis_app.carehomes.models import Subdistrict

DEMO = Path(__file__).resolve().parent.parent / "fixtures" / "binhai_subdistricts_demo.geojson"


def ogr2ogr(*args: str) -> None:
    subprocess.run(["ogr2ogr", *args], check=True, capture_output=True)


def write_geojson(path: Path, features: list[dict]) -> Path:
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False))
    return path


def square(lon: float, lat: float, d: float = 0.01) -> dict:
    return {
        "type": "Polygon",
        "coordinates": [[[lon, lat], [lon + d, lat], [lon + d, lat + d], [lon, lat + d], [lon, lat]]],
    }


def test_dry_run_reports_but_writes_nothing(db, tmp_path):
    path = write_geojson(tmp_path / "b.geojson", [
        {"type": "Feature", "properties": {"code": "120116001", "name": "塘沽街道"}, "geometry": square(117.66, 39.01)},
    ])  # fmt: skip
    before = Subdistrict.objects.get(code="120116001").boundary
    report = import_subdistricts(path)
    assert report.ok and not report.committed
    assert report.matched[0].matched_by == "代码"
    assert len(report.missing) == 20
    assert Subdistrict.objects.get(code="120116001").boundary.equals(before)


def test_commit_replaces_boundaries_and_marks_them_official(db, tmp_path):
    path = write_geojson(tmp_path / "official.geojson", [
        {"type": "Feature", "properties": {"code": "120116001000", "name": "塘沽街道"}, "geometry": square(117.66, 39.01)},
        {"type": "Feature", "properties": {"name": "汉沽"}, "geometry": square(117.79, 39.24)},
    ])  # fmt: skip
    report = import_subdistricts(path, commit=True)
    assert report.committed
    assert [f.matched_by for f in report.features] == ["代码", "名称"]
    tanggu = Subdistrict.objects.get(code="120116001")
    assert not tanggu.boundary_is_approximate and tanggu.boundary_source == "official.geojson"
    assert tanggu.boundary.geom_type == "MultiPolygon"


def test_shapefile_in_a_projected_crs_is_reprojected_to_wgs84(db, tmp_path):
    shp = tmp_path / "jiezhen.shp"
    ogr2ogr("-f", "ESRI Shapefile", "-t_srs", "EPSG:4547", "-lco", "ENCODING=UTF-8", str(shp), str(DEMO))
    report = import_subdistricts(shp, commit=True)
    assert report.srid == 4547, report.as_text()
    assert report.ok and len(report.matched) == 21
    tanggu = Subdistrict.objects.get(code="120116001")
    original = json.loads(DEMO.read_text())["features"][0]["geometry"]["coordinates"][0][0]
    assert tanggu.boundary.coords[0][0][0] == pytest.approx(tuple(original), abs=1e-6)


def test_geopackage_is_read_too(db, tmp_path):
    gpkg = tmp_path / "jiezhen.gpkg"
    ogr2ogr("-f", "GPKG", "-t_srs", "EPSG:3857", "-nln", "jiezhen", str(gpkg), str(DEMO))
    report = import_subdistricts(gpkg, layer="jiezhen")
    assert report.srid == 3857 and report.ok and len(report.matched) == 21


def test_a_file_whose_coordinates_do_not_fit_its_declared_crs_is_refused(db, tmp_path):
    # Metres (EPSG:3857 numbers) in a GeoJSON, which declares WGS84 by definition.
    path = write_geojson(tmp_path / "wrong.geojson", [
        {"type": "Feature", "properties": {"code": "120116001"}, "geometry": square(13100000, 4720000, 1000)},
    ])  # fmt: skip
    report = import_subdistricts(path, commit=True)
    assert not report.committed
    assert "坐标系可能声明错误" in report.unmatched[0].reason


def test_unknown_codes_invalid_geometry_and_duplicates_are_reported_and_nothing_is_written(db, tmp_path):
    bowtie = {
        "type": "Polygon",
        "coordinates": [[[117.6, 39.0], [117.7, 39.1], [117.7, 39.0], [117.6, 39.1], [117.6, 39.0]]],
    }
    path = write_geojson(tmp_path / "bad.geojson", [
        {"type": "Feature", "properties": {"code": "120116999", "name": "不存在镇"}, "geometry": square(117.6, 39.0)},
        {"type": "Feature", "properties": {"code": "120116005"}, "geometry": bowtie},
        {"type": "Feature", "properties": {"code": "120116006"}, "geometry": square(117.6, 39.0)},
        {"type": "Feature", "properties": {"name": "新河街道"}, "geometry": square(117.6, 39.0)},
        {"type": "Feature", "properties": {"code": "120116007"}, "geometry": {"type": "Point", "coordinates": [117.6, 39]}},
    ])  # fmt: skip
    before = {s.code: s.boundary.wkt for s in Subdistrict.objects.all()}
    report = import_subdistricts(path, commit=True)
    reasons = [f.reason for f in report.unmatched]
    assert "未知的区划代码 120116999" in reasons[0]
    assert "几何无效" in reasons[1]
    assert "重复对应" in reasons[2]
    assert "几何类型应为面" in reasons[3]
    assert not report.committed
    assert before == {s.code: s.boundary.wkt for s in Subdistrict.objects.all()}


def test_a_shapefile_without_prj_needs_srid(db, tmp_path):
    shp = tmp_path / "noprj.shp"
    ogr2ogr("-f", "ESRI Shapefile", str(shp), str(DEMO))
    shp.with_suffix(".prj").unlink()
    with pytest.raises(ImportFileError, match="--srid"):
        import_subdistricts(shp)
    assert import_subdistricts(shp, srid=4326).ok


def test_an_unreadable_file_is_a_clear_error(db, tmp_path):
    path = tmp_path / "x.geojson"
    path.write_text("not json")
    with pytest.raises(ImportFileError, match="无法读取"):
        import_subdistricts(path)


def test_command_is_a_dry_run_unless_commit(db, tmp_path, capsys):
    path = write_geojson(tmp_path / "b.geojson", [
        {"type": "Feature", "properties": {"code": "120116001"}, "geometry": square(117.66, 39.01)},
    ])  # fmt: skip
    call_command("import_subdistricts", str(path))
    assert "试运行" in capsys.readouterr().out
    assert Subdistrict.objects.get(code="120116001").boundary_is_approximate
    call_command("import_subdistricts", str(path), "--commit")
    assert not Subdistrict.objects.get(code="120116001").boundary_is_approximate
    bad = write_geojson(
        tmp_path / "c.geojson", [{"type": "Feature", "properties": {"code": "1"}, "geometry": square(117.6, 39)}]
    )
    with pytest.raises(CommandError, match="未能匹配"):
        call_command("import_subdistricts", str(bad), "--commit")


def test_reimporting_the_demo_changes_nothing(db):
    report = import_subdistricts(DEMO, commit=True, create_missing=True, approximate=True)
    assert all(f.unchanged for f in report.features)
    assert report.homes_reassigned == 0


def _office_shapefile(tmp_path: Path, *, cpg: str | None, ldid: int = 0) -> Path:
    """As a Chinese GIS office exports it: CGCS2000 3-degree Gauss-Krüger (EPSG:4527), XZQDM/XZQMC, the .dbf in GBK."""
    source = json.loads(DEMO.read_text(encoding="utf-8"))
    for f in source["features"]:
        p = f["properties"]
        f["properties"] = {"XZQDM": p["code"], "XZQMC": p["name"]}
    geojson = write_geojson(tmp_path / "office.geojson", source["features"])
    shp = tmp_path / "xzq.shp"
    ogr2ogr("-f", "ESRI Shapefile", "-t_srs", "EPSG:4527", "-lco", "ENCODING=CP936", str(shp), str(geojson))
    shp.with_suffix(".cpg").unlink(missing_ok=True)
    if cpg is not None:
        shp.with_suffix(".cpg").write_text(cpg)
    dbf = shp.with_suffix(".dbf")
    data = bytearray(dbf.read_bytes())
    data[29] = ldid  # the language driver byte: 0 = not declared
    dbf.write_bytes(bytes(data))
    return shp


@pytest.mark.parametrize(
    ("cpg", "ldid", "how"),
    [(None, 0, "自动识别"), ("GBK", 0, "xzq.cpg 声明"), (None, 0x4D, "DBF 文件头语言标识")],
)
def test_a_gbk_shapefile_from_a_chinese_gis_office_imports_however_its_encoding_is_declared(
    db, tmp_path, cpg, ldid, how
):
    shp = _office_shapefile(tmp_path, cpg=cpg, ldid=ldid)
    assert "塘沽".encode("gbk") in shp.with_suffix(".dbf").read_bytes()  # really GBK on disk
    report = import_subdistricts(shp)
    assert report.ok and len(report.matched) == 21 and report.srid == 4527
    assert "GB18030" in report.encoding_note and how in report.encoding_note
    assert {f.name for f in report.features} >= {"塘沽街道", "汉沽街道"}


def test_a_wrongly_declared_encoding_is_refused_with_the_feature_and_field_and_a_hint(db, tmp_path):
    shp = _office_shapefile(tmp_path, cpg="UTF-8")
    with pytest.raises(ImportFileError) as refused:
        import_subdistricts(shp)
    message = str(refused.value)
    assert "第 1 个要素的字段“XZQMC”无法按 UTF-8 解码" in message and "--encoding GBK" in message
    report = import_subdistricts(shp, encoding="GBK")  # the user's word wins over the .cpg
    assert report.ok and "按 --encoding 指定" in report.encoding_note


def test_the_command_takes_encoding_and_says_which_it_used(db, tmp_path, capsys):
    shp = _office_shapefile(tmp_path, cpg=None)
    call_command("import_subdistricts", str(shp), "--encoding", "GB2312")
    assert "属性编码：GB18030" in capsys.readouterr().out
    with pytest.raises(CommandError, match="不认识的编码"):
        call_command("import_subdistricts", str(shp), "--encoding", "klingon")
