"""Background jobs: generate (zip for download), push to QFieldCloud, pull from it. Each reports progress; a failure
fails the job with the reason shown on its page (never silent)."""

import re
import shutil
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model

from gis_app.jobs.registry import handler
from gis_app.jobs.services import JobError, RunLater, enqueue
from gis_app.lib import media
from gis_app.lib.qgis import QgisError

from .cloud import CloudError, check_packaging, pull, push
from .importer import ImportRefused, import_folder
from .models import FieldProject
from .package import generate, zip_folder
from .spec import ScopeError, resolve_scope


def project_dir(scope_key: str) -> Path:
    return Path(settings.FIELD_PROJECTS_DIR) / re.sub(r"[^A-Za-z0-9_-]", "_", scope_key)


def _user(job):
    return get_user_model().objects.filter(pk=job.created_by_id).first()


def _generate(job, progress) -> tuple[FieldProject, Path, dict]:
    try:
        scope = resolve_scope(job.params["scope"], _user(job))
    except ScopeError as exc:
        raise JobError(str(exc)) from None
    progress(1, 4, f"生成 {scope.label} 的 QField 项目（QGIS）", force=True)
    folder = project_dir(scope.key)
    if folder.exists():
        shutil.rmtree(folder)
    try:
        result = generate(scope, folder)
    except QgisError as exc:
        raise JobError(str(exc)) from None
    return FieldProject.objects.get(scope=scope.key), folder, result


@handler("field_forms.package")
def run_package(job, progress) -> dict:
    project, folder, result = _generate(job, progress)
    progress(3, 4, "打包 zip", force=True)
    name = media.save(f"field/qfield-{job.pk}.zip", zip_folder(folder))
    summary = f"{result['homes']} 家机构，{result['layers']} 个图层，{result['features']} 个要素"
    progress(4, 4, summary, force=True)
    return {
        "file": name,
        "filename": f"QField-{project.scope.replace(':', '-')}.zip",
        "summary": f"已生成 QField 项目：{summary}。解压到平板的 QField 目录即可离线使用。",
        "project": project.pk,
    }


@handler("field_forms.push")
def run_push(job, progress) -> dict:
    project, folder, result = _generate(job, progress)
    try:
        pushed = push(project, folder, lambda d, t=None, m=None, force=False: progress(2 + d / 2, 4, m, force=force))
    except CloudError as exc:
        raise JobError(str(exc)) from None
    if pushed["packaging"]:
        title = f"等待云端打包：{project.title}"
        enqueue(
            kind="field_forms.package_watch",
            title=title,
            params={"project": project.pk},
            created_by=_user(job),
            delay=_poll(),
        )
    return {
        "summary": (
            f"已上传到 QFieldCloud（项目 {pushed['cloud_project_id']}，{len(pushed['uploaded'])} 个文件）；"
            "云端打包完成后平板即可下载，进度见“外业采集”页"
            if pushed["uploaded"]
            else f"QFieldCloud 上的项目 {pushed['cloud_project_id']} 已是最新，未上传文件"
        ),
        "project": project.pk,
    }


def _poll() -> timedelta:
    return timedelta(seconds=settings.QFIELDCLOUD_PACKAGE_POLL_SECONDS)


@handler("field_forms.package_watch")
def run_package_watch(job, progress) -> dict:
    """Follows the server's packaging after a push: looks, and comes back later (RunLater) while it is not done."""
    project = FieldProject.objects.get(pk=job.params["project"])
    try:
        status = check_packaging(project)
    except CloudError as exc:
        raise JobError(str(exc)) from None
    if status == FieldProject.Packaging.PACKAGING:
        raise RunLater(_poll().total_seconds(), project.package_message or "云端打包中")
    if status in (FieldProject.Packaging.FAILED, FieldProject.Packaging.STALLED):
        raise JobError(project.package_message)
    return {"summary": project.package_message or "云端打包完成", "project": project.pk}


MAX_ZIP_ENTRIES = 20000
MAX_UNPACKED = 2 * 1024**3


def unpack(data: bytes, dest: Path) -> Path:
    """A returned project as a zip (from the tablet, by cable): unpacked safely; the folder holding the GeoPackage."""
    import io
    import zipfile

    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise JobError("上传的文件不是 zip 压缩包") from None
    names = archive.namelist()
    if len(names) > MAX_ZIP_ENTRIES or sum(i.file_size for i in archive.infolist()) > MAX_UNPACKED:
        raise JobError("压缩包内文件过多或解压后过大（上限 2 GB）")
    root = dest.resolve()
    for name in names:
        target = (dest / name).resolve()
        if root not in target.parents and target != root:
            raise JobError(f"压缩包内的路径不安全：{name}")
    archive.extractall(dest)
    gpkgs = sorted(dest.rglob("*.gpkg"), key=lambda p: len(p.parts))
    if not gpkgs:
        raise JobError("压缩包中没有 GeoPackage（inspection.gpkg）")
    return gpkgs[0].parent


@handler("field_forms.import_zip")
def run_import_zip(job, progress) -> dict:
    import tempfile

    with tempfile.TemporaryDirectory(prefix="field-return-") as tmp:
        folder = unpack(bytes(job.payload), Path(tmp))
        try:
            report = import_folder(folder, by=_user(job), progress=progress)
        except ImportRefused as exc:
            raise JobError("未导入任何数据：" + "；".join(exc.report.errors[:20])) from None
    return {"summary": report.summary(), "notes": report.notes, **report.as_dict()}


@handler("field_forms.pull")
def run_pull(job, progress) -> dict:
    project = FieldProject.objects.get(pk=job.params["project"])
    # Kept between pulls (and apart from the generated project): files already here are not downloaded again.
    folder = project_dir(project.scope).with_name(project_dir(project.scope).name + ".pulled")
    try:
        report = pull(project, folder, by=_user(job), progress=progress)
    except CloudError as exc:
        raise JobError(str(exc)) from None
    except ImportRefused as exc:
        raise JobError("未导入任何数据：" + "；".join(exc.report.errors[:20])) from None
    return {"summary": report.summary(), "notes": report.notes, "project": project.pk, **report.as_dict()}
