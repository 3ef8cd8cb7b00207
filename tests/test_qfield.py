"""QField projects opened by real QGIS, the GeoPackage read by GDAL, and the round trip through a local stand-in
QFieldCloud driven only by qfieldcloud-sdk: generate, push, edit as QField would, pull, and find every change once."""

import io
import json
import re
import shutil
import uuid
import zipfile
from pathlib import Path

import pytest
from django.apps import apps
from django.contrib.gis.gdal import DataSource, GDALException
from django.contrib.gis.geos import Point
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from PIL import Image
from qfieldcloud_sdk import sdk

from field_forms import cloud
from field_forms.importer import ImportRefused, import_folder
from field_forms.models import CloudDelta, Conflict, FieldProject
from field_forms.package import generate, run_qgis
from field_forms.services import resolve_conflict
from field_forms.spec import WIDGETS, layer_id, resolve_scope
from gis_app.hazards.models import Hazard, HazardPhoto
from gis_app.inspections.models import CheckItem, ChecklistVersion, CheckResult, Inspection
from gis_app.jobs.services import run_pending
from layers.catalogue import get_layer
from layers.models import FeaturePhoto
from layers.services import save_feature

pytestmark = pytest.mark.skipif(not Path("/usr/bin/python3").exists(), reason="needs Debian's python3 with QGIS")

SafetyExit = apps.get_model("layers", "SafetyExit")


def inspect(folder: Path) -> dict:
    return run_qgis("inspect", str(folder / "project.qgs"))


def by_name(report: dict) -> dict:
    return {Path(layer["source"].split("|")[0]).name and layer["source"].split("layername=")[-1]: layer
            for layer in report["layers"].values()}  # fmt: skip


def test_the_generated_project_opens_in_qgis_with_the_forms_qfield_needs(surveyed_home, tmp_path):
    folder = tmp_path / "home"
    result = generate(resolve_scope(f"carehome:{surveyed_home.pk}"), folder)
    assert result["homes"] == 1 and (folder / "DCIM").is_dir()
    report = inspect(folder)
    assert report["crs"] == "EPSG:4326" and report["absolute_paths"] is False
    assert report["attachment_dirs"] == ["DCIM"] and report["max_photo_px"] == 1600
    layers = by_name(report)
    for layer_key, layer in layers.items():
        assert layer["valid"], layer_key
        assert layer["source"].startswith(str(folder / "inspection.gpkg")), layer["source"]
        assert set(report["layers"]) >= {layer_id(layer_key)}  # the stable id, not QGIS's generated one
        for name, f in layer["fields"].items():
            assert f["widget"] in WIDGETS | {""}, (layer_key, name, f["widget"])
    assert layers["safety_exit"]["count"] == 2 and layers["fire_lane"]["count"] == 1
    assert layers["building"]["count"] == 1 and layers["care_homes"]["count"] == 1
    assert layers["checklist_items"]["count"] == CheckItem.objects.filter(version=ChecklistVersion.in_force()).count()
    # reference data cannot be edited; features and hazards can
    assert layers["care_homes"]["read_only"] and layers["checklist_items"]["read_only"]
    assert not layers["safety_exit"]["read_only"] and not layers["hazards"]["read_only"]
    exit_fields = layers["safety_exit"]["fields"]
    assert exit_fields["uuid"]["widget"] == "Hidden" and exit_fields["uuid"]["default"] == "uuid()"
    assert {"正常开启": "open"} in exit_fields["status"]["config"]["map"]
    assert exit_fields["exit_sign_ok"]["widget"] == "CheckBox"
    assert exit_fields["clear_width_m"]["widget"] == "Range" and exit_fields["clear_width_m"]["config"]["Max"] == 20
    assert exit_fields["surveyed_on"]["widget"] == "DateTime"
    assert exit_fields["surveyed_on"]["config"]["field_format"] == "yyyy-MM-dd"
    photo = exit_fields["photo"]
    assert photo["widget"] == "ExternalResource" and photo["config"]["DocumentViewer"] == 1
    assert photo["config"]["RelativeStorage"] == 1
    assert "DCIM/safety_exit_" in json.loads(layers["safety_exit"]["attachment_naming"])["photo"]
    assert exit_fields["care_home_id"]["widget"] == "ValueRelation"
    assert exit_fields["care_home_id"]["default"] == str(surveyed_home.pk)
    assert layers["safety_exit"]["tabs"] == ["基本信息", "照片与备注"]
    # checklist results: a child table of the inspection; its form has a tab per key place, each with a relation editor
    # whose relation also pairs the key place, so it shows and adds only that place's results
    relations = {r["id"]: r for r in report["relations"]}
    assert relations["rel_inspection_results"] == {"id": "rel_inspection_results", "valid": True,
                                                   "referencing": layer_id("check_results"),
                                                   "referenced": layer_id("inspections"),
                                                   "pairs": {"inspection_uuid": "uuid"}}  # fmt: skip
    from gis_app.inspections.models import KeyPlace

    places = list(KeyPlace.objects.filter(checkitem__version=ChecklistVersion.in_force()).distinct()
                  .order_by("order", "code").values_list("code", "name"))  # fmt: skip
    assert places and layers["inspections"]["tabs"] == ["基本信息", *[n for _, n in places], "签字"]
    assert layers["inspections"]["tab_relations"] == [f"rel_results_{c}" for c, _ in places]
    assert relations["rel_results_exits"]["pairs"] == {"inspection_uuid": "uuid", "key_place": "kp_exits"}
    assert relations["rel_results_exits"]["valid"]
    assert layers["inspections"]["fields"]["kp_exits"] == {"widget": "Hidden", "config": {}, "alias": "安全出口与疏散通道",
                                                           "default": "'exits'", "type": "String"}  # fmt: skip
    results = layers["check_results"]["fields"]
    assert results["inspection_uuid"]["widget"] == "RelationReference"
    assert results["item_code"]["config"]["Layer"] == layer_id("checklist_items")
    assert results["item_code"]["config"]["FilterExpression"] == "\"key_place\" = current_value('key_place')"
    assert layers["hazards"]["fields"]["photo_before"]["widget"] == "ExternalResource"

    # paths are relative in the file, so the folder can move (to a tablet, by cable) and still open
    sources = re.findall(r"<datasource>([^<]+)</datasource>", (folder / "project.qgs").read_text(encoding="utf-8"))
    assert sources and all(s.startswith("./inspection.gpkg|layername=") for s in sources)
    moved = tmp_path / "moved"
    shutil.copytree(folder, moved)
    shutil.rmtree(folder)
    assert all(layer["valid"] for layer in inspect(moved)["layers"].values())
    folder = moved

    # GDAL reads the same GeoPackage: tables, fields and rows
    ds = DataSource(str(folder / "inspection.gpkg"))
    names = {layer.name: layer for layer in ds}
    assert {"safety_exit", "hazards", "inspections", "check_results", "platform_meta"} <= set(names)
    assert names["safety_exit"].num_feat == 2 and "uuid" in names["safety_exit"].fields
    assert {str(f.get("uuid")) for f in names["safety_exit"]} == {
        str(u) for u in SafetyExit.objects.filter(care_home=surveyed_home).values_list("uuid", flat=True)
    }

    # regenerating keeps every layer id (pending edits on tablets still apply)
    again = tmp_path / "again"
    generate(resolve_scope(f"carehome:{surveyed_home.pk}"), again)
    assert set(inspect(again)["layers"]) == set(report["layers"])


TABLET = str(uuid.uuid4())  # QField's clientId: one per device


def deltafile(project_id: str, deltas: list[dict]) -> dict:
    """Shaped like QField's own (fixtures/qfield/deltafile_qfield.json)."""
    files = sorted({p for d in deltas for p in (d.get("new") or {}).get("files_sha256", {})})
    return {"version": "1.0", "id": str(uuid.uuid4()), "project": project_id, "deltas": deltas, "files": files}


def delta(layer: str, method: str, *, new=None, old=None, pk="1") -> dict:
    d = {"uuid": str(uuid.uuid4()), "clientId": TABLET, "exportId": TABLET, "localPk": pk, "sourcePk": pk,
         "localLayerId": layer_id(layer), "localLayerName": layer, "localLayerCrs": "EPSG:4326",
         "sourceLayerId": layer_id(layer), "method": method}  # fmt: skip
    if new is not None:
        d["new"] = new
    if old is not None:
        d["old"] = old
    return d


def field_work(home, exit_, photo_name: str) -> tuple[list[dict], dict]:
    """What an inspector does on the tablet: a hazard with a photo, an exit moved and found locked, a checklist."""
    hazard_uuid, inspection_uuid = str(uuid.uuid4()), str(uuid.uuid4())
    item = (
        CheckItem.objects.filter(key_place__code="exits", version__code="BH-2023").order_by("order").first()
        or CheckItem.objects.filter(key_place__code="exits").order_by("-version__effective_on", "order").first()
    )
    moved = (exit_.location.x + 0.0001, exit_.location.y + 0.0001)
    deltas = [
        delta("hazards", "create", new={"geometry": f"POINT({home.location.x + 0.0002} {home.location.y})",
              "attributes": {"uuid": hazard_uuid, "care_home_id": home.pk, "description": "走廊堆放杂物",
                             "severity": "general", "category": "exits", "found_on": "2026-11-29",
                             "photo_before": f"DCIM/{photo_name}"}, "files_sha256": {}}),
        delta("safety_exit", "patch", old={"geometry": exit_.location.wkt, "attributes": {"status": "open"}},
              new={"geometry": f"POINT({moved[0]} {moved[1]})", "attributes": {"status": "locked"}}, pk=str(exit_.pk)),
        delta("inspections", "create", new={"geometry": exit_.location.wkt, "attributes": {
              "uuid": inspection_uuid, "care_home_id": home.pk, "kind": "joint", "inspected_on": "2026-11-29",
              "signed_by_name": "张三", "inspectors": "张三,李四"}}),
        delta("check_results", "create", new={"geometry": None, "attributes": {
              "uuid": str(uuid.uuid4()), "inspection_uuid": inspection_uuid, "key_place": "exits",
              "item_code": item.code, "result": "fail", "note": "安全出口上锁"}}),
        delta("check_results", "create", new={"geometry": None, "attributes": {
              "uuid": str(uuid.uuid4()), "inspection_uuid": inspection_uuid, "key_place": item.key_place.code,
              "item_code": CheckItem.objects.filter(version=item.version).exclude(pk=item.pk).first().code,
              "result": "pass", "note": ""}}),
    ]  # fmt: skip
    return deltas, {"hazard": hazard_uuid, "inspection": inspection_uuid, "moved": moved, "item": item}


def jpeg(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (64, 48), "orange").save(path, "JPEG")
    return path


def test_round_trip_through_qfieldcloud_lands_every_change_exactly_once(surveyed_home, bureau, standin, tmp_path,
                                                                        settings):  # fmt: skip
    settings.FIELD_PROJECTS_DIR = tmp_path / "field"
    home = surveyed_home
    exit_ = SafetyExit.objects.filter(care_home=home, kind="door").get()
    from gis_app.jobs.services import enqueue

    job = enqueue(kind="field_forms.push", title="推送", params={"scope": f"carehome:{home.pk}"}, created_by=bureau)
    run_pending()
    job.refresh_from_db()
    assert job.status == "succeeded", job.error
    project = FieldProject.objects.get(scope=f"carehome:{home.pk}")
    pid = project.cloud_project_id
    remote = set(standin.state.files[pid])
    assert {"project.qgs", "inspection.gpkg"} <= remote
    assert standin.state.projects[pid]["the_qgis_file_name"] == "project.qgs"
    assert standin.state.projects[pid]["overwrite_conflicts"] is False

    # The tablet (QField) uploads its photo and pushes its deltafile; the server applies it with QGIS.
    tablet = sdk.Client(url=standin.url)
    tablet.login(standin.username, standin.password)
    photo = jpeg(tmp_path / "tablet" / "DCIM" / "hazards_20261129.jpg")
    tablet.upload_files(pid, sdk.FileTransferType.PROJECT, str(tmp_path / "tablet"), "DCIM/*", throw_on_error=True)
    deltas, expect = field_work(home, exit_, photo.name)
    path = tmp_path / "deltafile.json"
    path.write_text(json.dumps(deltafile(pid, deltas), ensure_ascii=False))
    standin.state.apply_synchronously = False  # pull must wait for the server's job
    response = tablet.push_delta(pid, str(path))
    assert response.status_code == 200  # push_delta hands back the raw Response

    job = enqueue(kind="field_forms.pull", title="拉取", params={"project": project.pk}, created_by=bureau)
    run_pending()
    job.refresh_from_db()
    assert job.status == "succeeded", job.error
    assert job.result["hazards"] == 1 and job.result["inspections"] == 1 and job.result["updated"] == 1

    hazard = Hazard.objects.get(uuid=expect["hazard"])
    assert hazard.status == "reported" and hazard.care_home == home and hazard.description == "走廊堆放杂物"
    assert HazardPhoto.objects.filter(hazard=hazard, stage="before").count() == 1
    exit_.refresh_from_db()
    assert exit_.status == "locked"
    assert exit_.location.distance(Point(*expect["moved"], srid=4326)) < 1e-7
    inspection = Inspection.objects.get(uuid=expect["inspection"])
    assert inspection.kind == "joint" and inspection.results.count() == 2
    assert {i.name for i in inspection.inspectors.all()} == {"张三", "李四"}
    failed = inspection.results.get(result=CheckResult.Result.FAIL)
    assert Hazard.objects.filter(check_result=failed).count() == 1  # the failed item entered the ledger
    assert CloudDelta.objects.filter(project=project, status="STATUS_APPLIED").count() == 5
    counts = (
        Hazard.objects.count(),
        Inspection.objects.count(),
        HazardPhoto.objects.count(),
        FeaturePhoto.objects.count(),
    )

    # Pulling again changes nothing.
    job = enqueue(kind="field_forms.pull", title="拉取", params={"project": project.pk}, created_by=bureau)
    run_pending()
    job.refresh_from_db()
    assert job.status == "succeeded" and job.result["hazards"] == 0 and job.result["updated"] == 0
    assert (Hazard.objects.count(), Inspection.objects.count(), HazardPhoto.objects.count(),
            FeaturePhoto.objects.count()) == counts  # fmt: skip
    assert CloudDelta.objects.filter(project=project).count() == 5


def test_edits_on_both_sides_become_a_conflict_and_nothing_is_overwritten(surveyed_home, bureau, standin, tmp_path,
                                                                          settings):  # fmt: skip
    settings.FIELD_PROJECTS_DIR = tmp_path / "field"
    home = surveyed_home
    exit_ = SafetyExit.objects.filter(care_home=home, kind="stairway").get()
    project = FieldProject(scope=f"carehome:{home.pk}")
    folder = tmp_path / "sent"
    generate(resolve_scope(project.scope), folder)
    project = FieldProject.objects.get(scope=project.scope)
    cloud.push(project, folder)
    # the web changes the exit's status; the field changes its width and status too
    save_feature(get_layer("safety_exit"), by=bureau, instance=exit_, attributes={"status": "blocked"})
    tablet = sdk.Client(url=standin.url, token=standin.token())
    standin.state.apply_synchronously = True
    path = tmp_path / "d.json"
    path.write_text(json.dumps(deltafile(project.cloud_project_id, [
        delta("safety_exit", "patch", old={"attributes": {"clear_width_m": None}},
              new={"attributes": {"clear_width_m": 1.4}}, pk=str(exit_.pk)),
        delta("fire_lane", "patch", old={"attributes": {"status": "clear"}},
              new={"attributes": {"status": "blocked"}}, pk="987654321"),  # a feature the server cannot find
    ])))  # fmt: skip
    tablet.push_delta(project.cloud_project_id, str(path))
    report = cloud.pull(project, tmp_path / "pulled", by=bureau)
    assert report.conflicts == 1 and report.updated == 0
    exit_.refresh_from_db()
    assert exit_.status == "blocked" and exit_.clear_width_m is None  # the web version stays until a person decides
    both = Conflict.objects.get(project=project, kind="both_changed")
    assert both.web["status"] == "blocked" and both.field["clear_width_m"] == 1.4
    not_applied = Conflict.objects.get(project=project, kind="cloud_delta")
    assert "未应用" in not_applied.message  # the server's NOT_APPLIED delta is shown, not dropped

    resolve_conflict(bureau, both, take_field=True)
    exit_.refresh_from_db()
    assert float(exit_.clear_width_m) == 1.4 and exit_.status == "open"
    again = cloud.pull(project, tmp_path / "pulled2", by=bureau)
    assert again.conflicts == 0 and again.updated == 0


def test_a_broken_geopackage_is_refused_whole_with_a_report(surveyed_home, bureau, tmp_path):
    folder = tmp_path / "p"
    generate(resolve_scope(f"carehome:{surveyed_home.pk}"), folder)
    exit_ = SafetyExit.objects.filter(care_home=surveyed_home, kind="door").get()
    x, y = surveyed_home.location.x, surveyed_home.location.y
    deltas = [
        delta("safety_exit", "patch", old={"attributes": {}}, new={"attributes": {"status": "locked"}}, pk=str(exit_.pk)),
        delta("hazards", "create", new={"geometry": f"POINT({x} {y})", "attributes": {
            "uuid": str(uuid.uuid4()), "care_home_id": surveyed_home.pk, "description": "缺照片",
            "severity": "general", "photo_before": "DCIM/missing.jpg"}}),
        delta("building", "create", new={"geometry": f"POLYGON(({x} {y},{x + 0.0002} {y + 0.0002},{x + 0.0002} {y},"
              f"{x} {y + 0.0002},{x} {y}))", "attributes": {"uuid": str(uuid.uuid4()), "care_home_id": surveyed_home.pk,
              "name": "自相交"}}),
    ]  # fmt: skip
    (tmp_path / "d.json").write_text(json.dumps(deltafile("local", deltas)))
    statuses = run_qgis("apply-deltas", str(folder), str(tmp_path / "d.json"))
    assert all(s[0] == "applied" for s in statuses.values())
    before = (Hazard.objects.count(), SafetyExit.objects.get(pk=exit_.pk).status)
    with pytest.raises(ImportRefused) as refused:
        import_folder(folder, by=bureau)
    errors = "\n".join(refused.value.report.errors)
    assert "照片缺失（DCIM/missing.jpg）" in errors and "几何无效" in errors
    assert (Hazard.objects.count(), SafetyExit.objects.get(pk=exit_.pk).status) == before  # nothing imported

    # wrong schema: a table that lost a field the import needs
    import sqlite3

    fresh = tmp_path / "fresh"
    generate(resolve_scope(f"carehome:{surveyed_home.pk}"), fresh)
    with sqlite3.connect(fresh / "inspection.gpkg") as db:
        db.execute("ALTER TABLE check_results DROP COLUMN result")
    with pytest.raises(ImportRefused, match="数据表 check_results 缺少字段：result"):
        import_folder(fresh, by=bureau)

    # not a field project at all
    other = tmp_path / "other"
    other.mkdir()
    shutil.copy(Path(__file__).parent.parent / "fixtures" / "binhai_subdistricts_demo.geojson", other / "x.geojson")
    with pytest.raises(ImportRefused, match="没有 GeoPackage"):
        import_folder(other, by=bureau)


def test_cable_transfer_commands_and_the_web_download(surveyed_home, bureau, client, tmp_path, settings, capsys):
    out = tmp_path / "cable"
    call_command("qfield_package", "--scope", f"carehome:{surveyed_home.pk}", "--out", str(out), "--zip")
    assert (out / "project.qgs").exists() and out.with_suffix(".zip").exists()
    exit_ = SafetyExit.objects.filter(care_home=surveyed_home, kind="door").get()
    jpeg(out / "DCIM" / "hazards_cable.jpg")
    deltas, expect = field_work(surveyed_home, exit_, "hazards_cable.jpg")
    (tmp_path / "d.json").write_text(json.dumps(deltafile("cable", deltas), ensure_ascii=False))
    run_qgis("apply-deltas", str(out), str(tmp_path / "d.json"))
    call_command("qfield_import", str(out), "--user", "bureau")
    assert "新隐患 1，检查记录 1" in capsys.readouterr().out
    assert Hazard.objects.filter(uuid=expect["hazard"]).count() == 1
    call_command("qfield_import", str(out), "--user", "bureau")  # idempotent
    assert "新增要素 0，更新 0" in capsys.readouterr().out and Hazard.objects.filter(uuid=expect["hazard"]).count() == 1

    settings.MEDIA_ROOT = tmp_path / "media"
    settings.FIELD_PROJECTS_DIR = tmp_path / "field"
    client.force_login(bureau)
    response = client.post("/field/generate/", {"scope": f"carehome:{surveyed_home.pk}", "action": "package"})
    assert response.status_code == 302
    run_pending()
    job_url = response["Location"]
    page = client.get(job_url).content.decode()
    assert "下载 QField-carehome" in page
    download = client.get(job_url.rstrip("/") + "/download/")
    names = zipfile.ZipFile(io.BytesIO(b"".join(download.streaming_content))).namelist()
    assert {"project.qgs", "inspection.gpkg"} <= set(names) and any(n.startswith("DCIM/") for n in names)
    assert client.get("/field/").status_code == 200

    # the same returned folder, zipped and uploaded on the web: imported once, the second time nothing changes
    exit_.refresh_from_db()
    generate(resolve_scope(f"carehome:{surveyed_home.pk}"), out)
    jpeg(out / "DCIM" / "hazards_web.jpg")
    deltas, expect = field_work(surveyed_home, exit_, "hazards_web.jpg")
    (tmp_path / "d2.json").write_text(json.dumps(deltafile("cable", deltas), ensure_ascii=False))
    run_qgis("apply-deltas", str(out), str(tmp_path / "d2.json"))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for path in out.rglob("*"):
            z.write(path, f"返回/{path.relative_to(out).as_posix()}")
    for expected in ("新隐患 1，检查记录 1", "新隐患 0，检查记录 0"):
        buf.seek(0)
        upload = SimpleUploadedFile("返回.zip", buf.getvalue(), content_type="application/zip")
        response = client.post("/field/upload/", {"archive": upload})
        run_pending()
        assert expected in client.get(response["Location"]).content.decode()
    assert Hazard.objects.filter(uuid=expect["hazard"]).count() == 1
    bad = SimpleUploadedFile("x.zip", b"not a zip", content_type="application/zip")
    response = client.post("/field/upload/", {"archive": bad})
    run_pending()
    assert "不是 zip 压缩包" in client.get(response["Location"]).content.decode()


def test_scope_limits_what_a_user_can_package(surveyed_home, django_user_model, client):
    home_user = django_user_model.objects.get(username="home")
    client.force_login(home_user)
    response = client.post("/field/generate/", {"scope": f"carehome:{surveyed_home.pk}"}, follow=True)
    assert "没有可见的养老机构" in response.content.decode()
    with pytest.raises(Exception, match="范围格式"):
        resolve_scope("street:1")


def test_the_sdk_in_fake_mode_is_refused(monkeypatch, settings):
    settings.QFIELDCLOUD_URL, settings.QFIELDCLOUD_TOKEN = "https://example.invalid/api/v1/", "x"
    monkeypatch.setenv("ENVIRONMENT", "test")
    with pytest.raises(cloud.CloudError, match="ENVIRONMENT=test"):
        cloud.client()


def test_a_routes_project_holds_its_homes_in_visiting_order(bureau, tmp_path):
    from datetime import date

    from gis_app.routing import services as routing

    routing.load_places()
    office = routing.Place.objects.get(name="滨海新区民政局").location
    team = routing.TeamInput("甲组", "民政局", office, "民政局", office, 510, 1050)
    plan = routing.create_plan(bureau, title="路线", day=date(2026, 12, 5), teams=[team], solver_seconds=0.5,
                               candidates=routing.select_candidates(bureau, mode="risk", limit=6))  # fmt: skip
    plan = routing.solve_plan(plan)
    visited = {s.care_home_id: s for s in plan.stops.exclude(team=None)}
    folder = tmp_path / "route"
    result = generate(resolve_scope(f"route:{plan.pk}"), folder)
    assert result["homes"] == len(visited)
    ds = DataSource(str(folder / "inspection.gpkg"))
    rows = {f.get("id"): (f.get("team"), f.get("stop")) for f in ds["care_homes"]}
    assert rows == {pk: ("甲组", s.sequence) for pk, s in visited.items()}
    assert by_name(inspect(folder))["care_homes"]["count"] == len(visited)


def test_every_generation_keys_features_by_the_platform_id_so_a_stale_edit_never_lands_on_another(
    surveyed_home, bureau, tmp_path
):
    """Loss path (a): the web deletes exit A and sends a new package; a tablet still on the old package moves exit A.
    QFieldCloud applies the move by the GeoPackage fid. With fids renumbered per generation, exit B would now carry
    A's old number and be moved; with fids = platform ids the move finds nothing and comes back not applied."""
    home = surveyed_home
    exit_a = SafetyExit.objects.filter(care_home=home, kind="door").get()
    exit_b = SafetyExit.objects.filter(care_home=home, kind="stairway").get()
    old, new = tmp_path / "old", tmp_path / "new"
    generate(resolve_scope(f"carehome:{home.pk}"), old)
    fids = {f.get("uuid"): f.fid for f in DataSource(str(old / "inspection.gpkg"))["safety_exit"]}
    assert fids == {str(exit_a.uuid): exit_a.pk, str(exit_b.uuid): exit_b.pk}

    from layers.services import delete_feature

    delete_feature(get_layer("safety_exit"), exit_a, by=bureau)
    generate(resolve_scope(f"carehome:{home.pk}"), new)
    fids = {f.get("uuid"): f.fid for f in DataSource(str(new / "inspection.gpkg"))["safety_exit"]}
    assert fids == {str(exit_b.uuid): exit_b.pk}  # B keeps its number; A's is not reused

    x, y = exit_a.location.x, exit_a.location.y
    stale = [
        delta(
            "safety_exit",
            "patch",
            old={"geometry": exit_a.location.wkt, "attributes": {"status": "open"}},
            new={"geometry": f"POINT({x + 0.0001} {y})", "attributes": {"status": "locked"}},
            pk=str(exit_a.pk),
        )
    ]
    (tmp_path / "d.json").write_text(json.dumps(deltafile("p", stale)))
    statuses = run_qgis("apply-deltas", str(new), str(tmp_path / "d.json"))
    assert [s[0] for s in statuses.values()] == ["not_applied"]
    before = (exit_b.location.wkt, exit_b.status)
    import_folder(new, by=bureau)
    exit_b.refresh_from_db()
    assert (exit_b.location.wkt, exit_b.status) == before


def test_a_feature_whose_fid_disagrees_with_its_uuid_is_a_conflict_not_a_silent_match(surveyed_home, bureau, tmp_path):
    import subprocess

    home = surveyed_home
    exit_a = SafetyExit.objects.filter(care_home=home, kind="door").get()
    folder = tmp_path / "p"
    generate(resolve_scope(f"carehome:{home.pk}"), folder)
    # A copy-pasted or renumbered feature (GDAL's SQL: the GeoPackage's triggers need its functions).
    subprocess.run(
        [
            "ogrinfo",
            "-q",
            str(folder / "inspection.gpkg"),
            "-sql",
            f"UPDATE safety_exit SET fid = fid + 100000, status = 'locked' WHERE uuid = '{exit_a.uuid}'",
        ],
        check=True,
        capture_output=True,
    )
    report = import_folder(folder, by=bureau)
    assert report.conflicts == 1 and report.updated == 0
    exit_a.refresh_from_db()
    assert exit_a.status == "open"
    conflict = Conflict.objects.get(kind="fid_mismatch", uuid=exit_a.uuid)
    assert str(exit_a.pk) in conflict.message and conflict.field["status"] == "locked"


def test_the_standin_takes_qfields_own_deltafile_and_refuses_what_the_real_server_refuses(standin):
    """fixtures/qfield/deltafile_qfield.json is QField's deltafile as QField's test suite records it."""
    import requests

    recorded = json.loads((Path(__file__).parent.parent / "fixtures" / "qfield" / "deltafile_qfield.json").read_text())
    tablet = sdk.Client(url=standin.url, token=standin.token())
    pid = tablet.create_project("deltafile-shape", owner="inspector", description="")["id"]
    headers = {"Authorization": f"Token {standin.token()}"}

    def post(deltafile: dict):
        files = {"file": ("deltas.json", json.dumps({**deltafile, "project": pid}).encode(), "application/json")}
        return requests.post(f"{standin.url}deltas/{pid}/", files=files, headers=headers, timeout=30)

    ok = post(recorded)
    assert ok.status_code == 200 and ok.content == b""  # the real server answers a push with an empty body
    without_files = {k: v for k, v in recorded.items() if k != "files"}
    assert post(without_files).status_code == 500
    without_client = {
        **recorded,
        "deltas": [{k: v for k, v in d.items() if k != "clientId"} for d in recorded["deltas"]],
    }
    without_client["deltas"][0]["uuid"] = str(uuid.uuid4())
    assert post(without_client).status_code == 500
    jobs = tablet.list_jobs(pid)
    assert jobs and all("output" not in j for j in jobs)  # the list never says why; only GET jobs/<id>/ does


def test_a_push_never_overwrites_field_work_the_platform_has_not_pulled(
    surveyed_home, bureau, standin, tmp_path, settings
):
    """Loss path (b): the tablet changes a value and the server applies it; then the web pushes a new package."""
    settings.FIELD_PROJECTS_DIR = tmp_path / "field"
    home = surveyed_home
    exit_ = SafetyExit.objects.filter(care_home=home, kind="door").get()
    scope = f"carehome:{home.pk}"
    generate(resolve_scope(scope), tmp_path / "v1")
    project = FieldProject.objects.get(scope=scope)
    cloud.push(project, tmp_path / "v1")
    project.refresh_from_db()
    tablet = sdk.Client(url=standin.url, token=standin.token())
    standin.state.apply_synchronously = True
    (tmp_path / "d.json").write_text(
        json.dumps(
            deltafile(
                project.cloud_project_id,
                [
                    delta(
                        "safety_exit",
                        "patch",
                        old={"attributes": {"status": "open"}},
                        new={"attributes": {"status": "locked"}},
                        pk=str(exit_.pk),
                    )
                ],
            )
        )
    )
    tablet.push_delta(project.cloud_project_id, str(tmp_path / "d.json"))

    generate(resolve_scope(scope), tmp_path / "v2")  # the web regenerates (exit still "open" in PostGIS)
    uploads_before = len(standin.state.requests)
    with pytest.raises(cloud.CloudError) as refused:
        cloud.push(project, tmp_path / "v2")
    assert "请先“拉取”" in str(refused.value)
    assert not [r for r in standin.state.requests[uploads_before:] if r[0] == "POST" and "/files/" in r[1]]

    cloud.pull(project, tmp_path / "pulled", by=bureau)
    exit_.refresh_from_db()
    assert exit_.status == "locked"  # the field's value is in PostGIS
    project.refresh_from_db()
    generate(resolve_scope(scope), tmp_path / "v3")
    cloud.push(project, tmp_path / "v3")  # now nothing unpulled: the push goes through


def test_the_importers_reader_reads_what_gdal_reads_value_by_value(surveyed_home, tmp_path):
    """The importer reads the GeoPackage with SQLite (field_forms.gpkg, ~100× faster than GDAL's bindings): every
    table QGIS wrote and QField edited, every key, value and geometry equal to what GDAL reads from the same file."""
    import shapely

    from field_forms import gpkg
    from field_forms.spec import GPKG

    folder = tmp_path / "p"
    generate(resolve_scope(f"carehome:{surveyed_home.pk}"), folder)
    exit_ = SafetyExit.objects.filter(care_home=surveyed_home, kind="door").get()
    deltas, _ = field_work(surveyed_home, exit_, "h.jpg")
    x, y = surveyed_home.location.x, surveyed_home.location.y
    polygon = f"POLYGON(({x} {y},{x + 0.0002} {y},{x + 0.0002} {y + 0.0001},{x} {y}))"
    attributes = {"uuid": str(uuid.uuid4()), "care_home_id": surveyed_home.pk, "name": "新楼"}
    deltas.append(delta("building", "create", new={"geometry": polygon, "attributes": attributes}))
    (tmp_path / "d.json").write_text(json.dumps(deltafile("local", deltas)))
    assert all(s[0] == "applied" for s in run_qgis("apply-deltas", str(folder), str(tmp_path / "d.json")).values())

    ours = gpkg.read(folder / GPKG)
    gdal = {layer.name: layer for layer in DataSource(str(folder / GPKG))}
    assert set(ours) == set(gdal) and {"safety_exit", "hazards", "check_results", "building"} <= set(ours)
    compared = {"values": 0, "geometries": 0, "dates": 0}
    for name, layer in gdal.items():
        table = ours[name]
        assert table.fields == list(layer.fields), name
        features = list(layer)
        assert table.fids == [f.fid for f in features], name
        for feature, row, shape in zip(features, table.rows, table.shapes, strict=True):
            for field in layer.fields:
                assert row[field] == feature.get(field), (name, feature.fid, field)
                compared["values"] += 1
                compared["dates"] += hasattr(row[field], "isoformat")
            try:
                theirs = feature.geom
            except GDALException:  # a table without geometry
                theirs = None
            if theirs is None or theirs.empty:
                assert shape is None, (name, feature.fid)
            else:
                assert shapely.equals_exact(shape, shapely.from_wkb(bytes(theirs.wkb)), 0), (name, feature.fid)
                compared["geometries"] += 1
    assert compared["values"] > 100 and compared["geometries"] > 5 and compared["dates"] >= 2, compared

    # a GeoPackage cut short (a copy or a sync that did not finish) is refused with what to do, nothing read
    cut = tmp_path / "cut"
    shutil.copytree(folder, cut)
    data = (cut / GPKG).read_bytes()
    (cut / GPKG).write_bytes(data[: len(data) // 3])
    with pytest.raises(ImportRefused, match="不是完整的 GeoPackage"):
        import_folder(cut, by=None)
