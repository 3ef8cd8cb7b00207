"""Field sync beyond the round trip (#13): syncs that move only what changed, the server's packaging followed without
waiting, plan limits and version caps, what the real server does with two edits of one feature, web deletions against
tablet copies, and conflicts shown in words. Shares the fixtures and helpers of test_qfield."""

import json
import time

import pytest
from django.utils import timezone
from qfieldcloud_sdk import sdk

from field_forms import cloud
from field_forms.importer import import_folder
from field_forms.models import Conflict, FieldProject
from field_forms.package import generate
from field_forms.spec import resolve_scope
from gis_app.jobs.services import run_pending
from layers.catalogue import get_layer
from layers.services import save_feature

from .test_qfield import (
    SafetyExit,
    delta,
    deltafile,
    pytestmark,  # noqa: F401 - the same skip: needs Debian's QGIS
)


def test_syncs_move_only_what_changed(surveyed_home, bureau, standin, tmp_path, settings):
    """A push uploads only files that say something new (each upload is a server file version and a package job);
    a pull downloads only files it does not hold yet."""
    home = surveyed_home
    scope = f"carehome:{home.pk}"
    generate(resolve_scope(scope), tmp_path / "v1")
    project = FieldProject.objects.get(scope=scope)
    first = cloud.push(project, tmp_path / "v1")
    pid = project.cloud_project_id
    assert {"project.qgs", "inspection.gpkg"} <= set(first["uploaded"])
    versions = {name: len(v) for name, v in standin.state.files[pid].items()}
    packages = len([r for r in standin.state.requests if r[0] == "POST" and "/jobs/" in r[1]])

    # regenerated with nothing changed: QGIS writes other bytes (save time, attribute order), nothing is uploaded
    generate(resolve_scope(scope), tmp_path / "v2")
    assert (tmp_path / "v1" / "project.qgs").read_bytes() != (tmp_path / "v2" / "project.qgs").read_bytes()
    project.refresh_from_db()
    again = cloud.push(project, tmp_path / "v2")
    assert again["uploaded"] == []
    assert {name: len(v) for name, v in standin.state.files[pid].items()} == versions
    assert len([r for r in standin.state.requests if r[0] == "POST" and "/jobs/" in r[1]]) == packages

    # a web edit: the project and the GeoPackage go up again, nothing else
    exit_ = SafetyExit.objects.filter(care_home=home, kind="door").get()
    SafetyExit.objects.filter(pk=exit_.pk).update(status="blocked")
    generate(resolve_scope(scope), tmp_path / "v3")
    project.refresh_from_db()
    changed = cloud.push(project, tmp_path / "v3")
    assert sorted(changed["uploaded"]) == ["inspection.gpkg", "project.qgs"]
    assert all(len(standin.state.files[pid][n]) == versions[n] + (n in changed["uploaded"]) for n in versions)

    # pulls: the second one downloads nothing
    def downloads_during(action) -> list:
        before = len(standin.state.requests)
        action()
        listing = f"/api/v1/files/{pid}"
        sent = standin.state.requests[before:]
        return [path for method, path in sent if method == "GET" and path.rstrip("/").startswith(listing + "/")]

    project.refresh_from_db()
    assert downloads_during(lambda: cloud.pull(project, tmp_path / "pulled", by=bureau)), "the GeoPackage comes down"
    assert downloads_during(lambda: cloud.pull(project, tmp_path / "pulled", by=bureau)) == []


def test_a_plan_limit_is_said_plainly_and_the_server_keeps_a_bounded_number_of_versions(
    surveyed_home, bureau, standin, tmp_path
):
    home = surveyed_home
    scope = f"carehome:{home.pk}"
    generate(resolve_scope(scope), tmp_path / "v1")
    project = FieldProject.objects.get(scope=scope)
    standin.state.max_projects = 0  # the account's plan allows no (more) project
    with pytest.raises(cloud.CloudError) as refused:
        cloud.push(project, tmp_path / "v1")
    assert "套餐不允许此操作" in str(refused.value) and "permission_denied_plan_insufficient" in str(refused.value)
    assert not standin.state.projects

    standin.state.max_projects = None
    exit_ = SafetyExit.objects.filter(care_home=home, kind="door").get()
    for n, status in enumerate(["open", "locked", "blocked", "open", "locked"]):
        SafetyExit.objects.filter(pk=exit_.pk).update(status=status)
        generate(resolve_scope(scope), tmp_path / f"w{n}")
        project.refresh_from_db()
        cloud.push(project, tmp_path / f"w{n}")
    pid = project.cloud_project_id
    assert len(standin.state.files[pid]["inspection.gpkg"]) == standin.state.max_versions == 3


def test_a_push_does_not_wait_for_the_servers_packaging_which_is_followed_and_shown(
    surveyed_home, bureau, standin, tmp_path, settings, client
):
    from gis_app.jobs.models import Job
    from gis_app.jobs.services import enqueue, run_now

    settings.FIELD_PROJECTS_DIR = tmp_path / "field"
    settings.QFIELDCLOUD_PACKAGE_POLL_SECONDS = 3600  # the follow-up comes back much later: the test moves it along
    scope = f"carehome:{surveyed_home.pk}"
    standin.state.package_outcome = "queued"  # the server's worker is not running
    push = enqueue(kind="field_forms.push", title="推送", params={"scope": scope}, created_by=bureau)
    started = time.monotonic()
    run_pending()
    push.refresh_from_db()
    assert push.status == "succeeded", push.error
    assert time.monotonic() - started < 60 and "云端打包完成后平板即可下载" in push.result["summary"]
    project = FieldProject.objects.get(scope=scope)
    assert project.package_status == "packaging"
    watch = Job.objects.get(kind="field_forms.package_watch")
    assert watch.status == "queued" and watch.run_after > timezone.now()  # comes back later, holds no worker

    def follow():
        run_now(watch)
        run_pending()
        watch.refresh_from_db()
        project.refresh_from_db()

    follow()  # still queued on the server: looked once, back in the queue, no attempt used
    assert watch.status == "queued" and watch.attempts == 0 and "queued" in watch.message
    settings.QFIELDCLOUD_JOB_TIMEOUT = 0  # ... and long enough that the server's worker must be down
    follow()
    assert watch.status == "failed" and project.package_status == "stalled"
    assert "工作进程可能未运行" in project.package_message and "工作进程可能未运行" in watch.error
    client.force_login(bureau)
    page = client.get("/field/").content.decode()
    assert "云端打包未完成" in page and "工作进程可能未运行" in page

    # a later push on a working server: followed to the end
    settings.QFIELDCLOUD_JOB_TIMEOUT = 120
    standin.state.package_outcome = "finished"
    exit_ = SafetyExit.objects.filter(care_home=surveyed_home, kind="door").get()
    SafetyExit.objects.filter(pk=exit_.pk).update(status="blocked")
    enqueue(kind="field_forms.push", title="推送", params={"scope": scope}, created_by=bureau)
    run_pending()
    watch = Job.objects.filter(kind="field_forms.package_watch").latest("pk")
    follow()
    assert watch.status == "succeeded" and project.package_status == "ready"
    assert "可供平板下载" in client.get("/field/").content.decode()

    # a package job that fails says the server's reason
    standin.state.package_outcome, standin.state.package_output = "failed", "Project file is not valid"
    SafetyExit.objects.filter(pk=exit_.pk).update(status="open")
    enqueue(kind="field_forms.push", title="推送", params={"scope": scope}, created_by=bureau)
    run_pending()
    watch = Job.objects.filter(kind="field_forms.package_watch").latest("pk")
    follow()
    assert watch.status == "failed" and project.package_status == "failed"
    assert "Project file is not valid" in project.package_message


def _field_edit(folder, sql: str, *params) -> None:
    """What QField does to the tablet's GeoPackage (the web cannot see it until the next import), through GDAL (its
    SQLite has the GeoPackage functions the R-tree triggers call)."""
    import subprocess

    for value in params:
        sql = sql.replace("?", str(int(value)), 1)
    subprocess.run(["ogrinfo", "-q", str(folder / "inspection.gpkg"), "-sql", sql], check=True, capture_output=True)


def test_a_feature_deleted_on_the_web_is_not_brought_back_by_an_import(surveyed_home, bureau, tmp_path):
    from layers.services import delete_feature

    home = surveyed_home
    exit_a = SafetyExit.objects.filter(care_home=home, kind="door").get()
    exit_b = SafetyExit.objects.filter(care_home=home, kind="stairway").get()
    tablet = tmp_path / "tablet"
    generate(resolve_scope(f"carehome:{home.pk}"), tablet)
    delete_feature(get_layer("safety_exit"), exit_a, by=bureau)
    delete_feature(get_layer("safety_exit"), exit_b, by=bureau)
    # the field did not touch A, and changed B
    _field_edit(tablet, "UPDATE safety_exit SET status = 'blocked' WHERE fid = ?", exit_b.pk)
    import_folder(tablet, by=bureau)
    assert not SafetyExit.objects.filter(uuid=exit_a.uuid).exists()  # the web's deletion stands
    assert not SafetyExit.objects.filter(uuid=exit_b.uuid).exists()  # not silently re-created either...
    project = FieldProject.objects.get(scope=f"carehome:{home.pk}")
    conflicts = Conflict.objects.filter(project=project, uuid=exit_b.uuid)
    assert [c.kind for c in conflicts] == ["deleted_on_web"]  # ...but a person decides about the field's change
    assert not Conflict.objects.filter(project=project, uuid=exit_a.uuid).exists()
    import_folder(tablet, by=bureau)  # a second import changes nothing
    assert Conflict.objects.filter(project=project).count() == 1
    assert not SafetyExit.objects.filter(uuid__in=[exit_a.uuid, exit_b.uuid]).exists()
    # the person restores B with the field's values; it comes back under its own uuid
    from field_forms.services import resolve_conflict

    resolve_conflict(bureau, conflicts.get(), take_field=True)
    restored = SafetyExit.objects.get(uuid=exit_b.uuid)
    assert restored.status == "blocked" and restored.care_home == home
    import_folder(tablet, by=bureau)  # and the next import agrees with it
    assert Conflict.objects.filter(project=project, status="open").count() == 0
    assert SafetyExit.objects.filter(uuid=exit_b.uuid).count() == 1


def test_keeping_a_web_deletion_is_remembered(surveyed_home, bureau, tmp_path):
    from field_forms.services import resolve_conflict
    from layers.services import delete_feature

    home = surveyed_home
    exit_b = SafetyExit.objects.filter(care_home=home, kind="stairway").get()
    tablet = tmp_path / "tablet"
    generate(resolve_scope(f"carehome:{home.pk}"), tablet)
    delete_feature(get_layer("safety_exit"), exit_b, by=bureau)
    _field_edit(tablet, "UPDATE safety_exit SET status = 'blocked' WHERE fid = ?", exit_b.pk)
    import_folder(tablet, by=bureau)
    resolve_conflict(bureau, Conflict.objects.get(uuid=exit_b.uuid), take_field=False)
    import_folder(tablet, by=bureau)
    assert not SafetyExit.objects.filter(uuid=exit_b.uuid).exists()
    assert not Conflict.objects.filter(uuid=exit_b.uuid, status="open").exists()


def test_two_edits_of_one_feature_in_one_deltafile_the_server_applies_only_the_first_and_the_other_is_shown(
    surveyed_home, bureau, standin, tmp_path
):
    home = surveyed_home
    exit_ = SafetyExit.objects.filter(care_home=home, kind="door").get()
    scope = f"carehome:{home.pk}"
    generate(resolve_scope(scope), tmp_path / "v1")
    project = FieldProject.objects.get(scope=scope)
    cloud.push(project, tmp_path / "v1")
    project.refresh_from_db()
    standin.state.apply_synchronously = True

    def patch(old: str, new: str) -> dict:
        change = {"old": {"attributes": {"status": old}}, "new": {"attributes": {"status": new}}}
        return delta("safety_exit", "patch", pk=str(exit_.pk), **change)

    edits = [patch("open", "locked"), patch("locked", "blocked")]
    (tmp_path / "d.json").write_text(json.dumps(deltafile(project.cloud_project_id, edits)))
    tablet = sdk.Client(url=standin.url, token=standin.token())
    tablet.push_delta(project.cloud_project_id, str(tmp_path / "d.json"))
    cloud.pull(project, tmp_path / "pulled", by=bureau)
    exit_.refresh_from_db()
    assert exit_.status == "locked"  # the first edit is in PostGIS
    shown = Conflict.objects.get(project=project, kind="cloud_delta", status="open")
    assert shown.layer == "safety_exit" and shown.uuid == exit_.uuid  # named by layer key and the feature's uuid
    assert "applied first" in shown.message and "blocked" in json.dumps(shown.field, ensure_ascii=False)


def test_the_field_page_says_conflicts_and_scopes_in_words(surveyed_home, bureau, tmp_path, client):
    home = surveyed_home
    exit_ = SafetyExit.objects.filter(care_home=home, kind="door").get()
    tablet = tmp_path / "tablet"
    generate(resolve_scope(f"carehome:{home.pk}"), tablet)
    save_feature(get_layer("safety_exit"), by=bureau, instance=exit_, attributes={"status": "blocked"})
    _field_edit(tablet, "UPDATE safety_exit SET status = 'locked' WHERE fid = ?", exit_.pk)
    import_folder(tablet, by=bureau)
    client.force_login(bureau)
    page = client.get("/field/").content.decode()
    conflicts = page[page.index('id="conflicts"') :]
    assert "状态：堵塞" in conflicts and "状态：<b>上锁</b>" in conflicts  # labels and values in Chinese
    assert "status=" not in conflicts and "uuid" not in conflicts and "care_home_id" not in conflicts
    assert "位置/形状" not in conflicts  # only the status differs: no claim of a moved feature
    projects = page[page.index('id="field-projects"') : page.index('id="conflicts"')]
    assert "养老机构" in projects and f"carehome:{home.pk}" not in projects
