"""The only code that talks to QFieldCloud, through qfieldcloud-sdk (pinned in requirements.txt).

Push: create the cloud project once (kept by id), ask the server to report conflicts instead of overwriting, upload the
generated folder (the SDK skips unchanged files by etag and sends the .qgs last), trigger packaging and wait for it.
Pull: wait until the server has applied the field's deltas, record the delta list (GET deltas/<project>/, which the SDK
does not wrap) as the audit trail, raise every CONFLICT / NOT_APPLIED / ERROR delta to a person, download the updated
GeoPackage and the photos, then run the same import as a cable transfer.

Traps handled: the SDK answers with fake data when ENVIRONMENT=test is set (refused here); its retries apply to https
only (plain http is allowed for a local server but said so in the log); push_delta returns a raw Response.
"""

import functools
import hashlib
import logging
import os
import time
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from gis_app.hazards.models import Hazard

from .importer import FEATURE_LAYERS as FEATURE_KEYS
from .importer import ImportReport, import_folder
from .models import CloudDelta, Conflict, ConflictStatus, FieldProject
from .package import read_digests

log = logging.getLogger(__name__)

PROBLEM_STATUSES = {"STATUS_CONFLICT": "冲突", "STATUS_NOT_APPLIED": "未应用", "STATUS_ERROR": "出错",
                    "STATUS_UNPERMITTED": "无权限"}  # fmt: skip
BUSY_JOB_STATUSES = {"pending", "queued", "started"}
LAYER_TITLES = {
    **{k: layer.title for k, layer in FEATURE_KEYS.items()},
    "hazards": "隐患",
    "inspections": "检查记录",
    "check_results": "检查结果",
}


@functools.cache
def _sdk_errors() -> tuple:
    """What the SDK raises, imported when the first error is caught (not when the web app starts)."""
    import requests
    from qfieldcloud_sdk.interfaces import QfcException

    return (QfcException, requests.RequestException, ValueError, KeyError)


class CloudError(RuntimeError):
    """A failed sync, said plainly to the user (Chinese)."""


def configured() -> bool:
    return bool(settings.QFIELDCLOUD_URL and (settings.QFIELDCLOUD_TOKEN or settings.QFIELDCLOUD_USERNAME))


def client():
    from qfieldcloud_sdk import sdk

    if os.environ.get("ENVIRONMENT") == "test":
        raise CloudError("环境变量 ENVIRONMENT=test 会让 qfieldcloud-sdk 返回虚假结果，请取消该设置后重试")
    if not configured():
        raise CloudError("未配置 QFieldCloud：请设置 QFIELDCLOUD_URL 和 QFIELDCLOUD_TOKEN（或用户名与密码）")
    url = settings.QFIELDCLOUD_URL.rstrip("/") + "/"
    if not url.startswith("https://"):
        log.warning("QFieldCloud at %s is not https: qfieldcloud-sdk retries only https requests", url)
    c = sdk.Client(url=url, token=settings.QFIELDCLOUD_TOKEN, connect_timeout=10, read_timeout=120)
    try:
        if not settings.QFIELDCLOUD_TOKEN:
            c.login(settings.QFIELDCLOUD_USERNAME, settings.QFIELDCLOUD_PASSWORD)
        status = c.check_server_status()
    except _sdk_errors() as exc:
        raise CloudError(f"无法连接 QFieldCloud（{url}）：{_reason(exc)}") from None
    if status.get("database") != "ok" or status.get("storage") != "ok":
        raise CloudError(f"QFieldCloud 服务状态异常：{status}")
    return c


# What QFieldCloud's error codes mean for the person who pressed the button.
KNOWN_CODES = {
    "permission_denied_plan_insufficient": "QFieldCloud 账户的套餐不允许此操作（如项目数已达上限）："
    "请在 QFieldCloud 升级套餐，或删除不再使用的云端项目后重试",
    "over_quota": "QFieldCloud 账户的存储空间已满：请删除不再使用的云端项目或文件，或升级套餐",
    "invalid_token": "QFieldCloud 令牌无效或已过期：请在 QFieldCloud 用户设置中重新生成，并更新 QFIELDCLOUD_TOKEN",
}


def _reason(exc: Exception) -> str:
    response = getattr(exc, "response", None)
    if response is not None:
        try:
            body = response.json()
            code = str(body.get("code", ""))
            if code in KNOWN_CODES:
                return f"{KNOWN_CODES[code]}（HTTP {response.status_code} {code}）"
            return f"HTTP {response.status_code} {code} {body.get('message', '')}".strip()
        except ValueError:
            return f"HTTP {response.status_code}"
    return str(exc)[:200]


def _call(what: str, func, *args, **kwargs):
    try:
        return func(*args, **kwargs)
    except _sdk_errors() as exc:
        raise CloudError(f"{what}失败：{_reason(exc)}") from None


def ensure_project(c, project: FieldProject) -> str:
    if project.cloud_project_id:
        try:
            c.get_project(project.cloud_project_id)
            return project.cloud_project_id
        except _sdk_errors() as exc:
            if getattr(getattr(exc, "response", None), "status_code", None) != 404:
                raise CloudError(f"读取云端项目失败：{_reason(exc)}") from None
    name = "gis_app_" + project.scope.replace(":", "_")
    existing = [p for p in _call("列出云端项目", c.list_projects) if p["name"] == name]
    if existing:
        pid = existing[0]["id"]
    else:
        owner = settings.QFIELDCLOUD_OWNER or None
        pid = _call("创建云端项目", c.create_project, name, owner=owner, description=project.title)["id"]
    # Conflicts are for a person to see, not for the last writer to win (the server's default).
    _call("设置冲突处理", c._request, "PATCH", f"projects/{pid}/", data={"overwrite_conflicts": False})
    FieldProject.objects.filter(pk=project.pk).update(cloud_project_id=pid)
    project.cloud_project_id = pid
    return pid


def wait_job(c, job_id: str, *, what: str, timeout: float | None = None) -> dict:
    deadline = time.monotonic() + (timeout or settings.QFIELDCLOUD_JOB_TIMEOUT)
    while True:
        job = _call(f"查询{what}任务", c.job_status, job_id)
        if job["status"] == "finished":
            return job
        if job["status"] in ("failed", "stopped"):
            raise CloudError(
                f"云端{what}任务{('失败' if job['status'] == 'failed' else '被停止')}：{job.get('output', '')[:200]}"
            )
        if time.monotonic() > deadline:
            raise CloudError(f"云端{what}任务超时（状态 {job['status']}）")
        time.sleep(settings.QFIELDCLOUD_POLL_SECONDS)


def push(project: FieldProject, folder: Path, progress=None) -> dict:
    from qfieldcloud_sdk.sdk import JobTypes

    say = progress or (lambda *a, **k: None)
    say(0, 4, "连接 QFieldCloud")
    c = client()
    if project.cloud_project_id:
        refuse_over_unpulled_work(c, project)
    pid = ensure_project(c, project)
    say(1, 4, "上传项目文件")
    uploaded = _upload_changed(c, project, pid, Path(folder))
    # The server now holds exactly what we sent: its data stamp is the new baseline for "unpulled field work".
    stamp = str(_call("读取云端项目", c.get_project, pid).get("data_last_updated_at") or "")
    fields = {"pushed_at": timezone.now(), "cloud_data_updated_at": stamp, "pushed_files": project.pushed_files}
    if uploaded:
        # Packaging may take the server minutes (or never start, when its worker is down): it is not waited for
        # here but followed on its own (check_packaging), and shown on the 外业采集 page meanwhile.
        say(2, 4, "请求云端打包")
        job = _call("触发打包", c.job_trigger, pid, JobTypes.PACKAGE, force=True)
        fields.update(
            package_job_id=job["id"],
            package_status=FieldProject.Packaging.PACKAGING,
            package_message="",
            package_started_at=timezone.now(),
        )
    FieldProject.objects.filter(pk=project.pk).update(**fields)
    say(4, 4, f"已上传到云端项目 {pid}，云端打包中" if uploaded else "云端已是最新，无需上传", force=True)
    return {"cloud_project_id": pid, "uploaded": uploaded, "packaging": bool(uploaded)}


def check_packaging(project: FieldProject) -> str:
    """Looks once at the server's package job of the last push; records and returns the project's packaging status."""
    Packaging = FieldProject.Packaging
    if project.package_status != Packaging.PACKAGING or not project.package_job_id:
        return project.package_status
    job = _call("查询打包任务", client().job_status, project.package_job_id)
    status, message = Packaging.PACKAGING, f"云端打包任务状态：{job.get('status', '未知')}"
    if job.get("status") == "finished":
        status, message = Packaging.READY, "云端打包完成，平板可下载最新项目"
    elif job.get("status") in ("failed", "stopped"):
        reason = _server_text(job.get("output")) or "云端未说明原因"
        status, message = Packaging.FAILED, f"云端打包失败：{reason}"[:300]
    elif (timezone.now() - project.package_started_at).total_seconds() > settings.QFIELDCLOUD_JOB_TIMEOUT:
        minutes = settings.QFIELDCLOUD_JOB_TIMEOUT // 60
        status = Packaging.STALLED
        message = (
            f"云端打包已等待 {minutes} 分钟仍未完成（状态 {job.get('status', '未知')}）："
            "QFieldCloud 的工作进程可能未运行，请联系云端管理员；平板上仍是上一版项目"
        )
    FieldProject.objects.filter(pk=project.pk).update(package_status=status, package_message=message)
    project.package_status, project.package_message = status, message
    return status


def _upload_changed(c, project: FieldProject, pid: str, folder: Path) -> list[str]:
    """Uploads the files that say something the server does not hold yet, and only those: every upload is a new
    file version on QFieldCloud (which keeps a bounded number), and a package job to wait for. A file is skipped when
    its content digest is the one pushed last and the server still holds the bytes pushed then (same md5)."""
    from qfieldcloud_sdk.sdk import FileTransferType

    said = read_digests(folder)
    remote = {f["name"]: f.get("md5sum") for f in _call("列出云端文件", c.list_remote_files, pid)}
    previous = dict(project.pushed_files or {})
    uploaded = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        name = path.relative_to(folder).as_posix()
        if any(part.startswith(".") for part in Path(name).parts):
            continue
        data = path.read_bytes()
        content = said.get(name) or hashlib.sha256(data).hexdigest()
        before = previous.get(name) or {}
        if before.get("digest") == content and remote.get(name) == before.get("md5"):
            continue
        _call("上传文件", c.upload_file, pid, FileTransferType.PROJECT, path, name, False)
        previous[name] = {"digest": content, "md5": hashlib.md5(data).hexdigest()}
        uploaded.append(name)
    project.pushed_files = previous
    return uploaded


def refuse_over_unpulled_work(c, project: FieldProject) -> None:
    """A push replaces the server's GeoPackage: field edits the server applied since our last pull would be lost.
    QFieldCloud stamps data_last_updated_at whenever it applies deltas, and we keep the stamp of our last pull."""
    from qfieldcloud_sdk.sdk import JobTypes

    pid = project.cloud_project_id
    busy = [j for j in _call("查询任务", c.list_jobs, pid, JobTypes.APPLY_DELTAS) if j["status"] in BUSY_JOB_STATUSES]
    if busy:
        raise CloudError("云端正在应用平板提交的外业修改。为免覆盖外业数据，本次未推送：请稍候先“拉取”，再推送。")
    remote = str(_call("读取云端项目", c.get_project, pid).get("data_last_updated_at") or "")
    pulled = FieldProject.objects.filter(pk=project.pk).values_list("cloud_data_updated_at", flat=True).first() or ""
    if remote and remote != pulled:
        raise CloudError(
            f"云端有尚未拉取到平台的外业修改（云端数据更新于 {remote[:19].replace('T', ' ')}）。"
            "为免覆盖外业数据，本次未推送：请先“拉取”，处理冲突后再推送。"
        )


def _layer_key(layer_id: str) -> str:
    from .spec import layer_id as id_of

    for key in [*FEATURE_KEYS, "hazards", "inspections", "check_results"]:
        if id_of(key) == layer_id:
            return key
    return layer_id


def _feature_uuid(layer: str, content: dict) -> str | None:
    """The feature a delta names: its uuid attribute if the delta carries one, else through the GeoPackage fid, which
    the platform generates as its own primary key."""
    for side in ("new", "old"):
        found = ((content.get(side) or {}).get("attributes") or {}).get("uuid")
        if found:
            return str(found)
    model = {**{k: v.get_model() for k, v in FEATURE_KEYS.items()}, "hazards": Hazard}.get(layer)
    pk = str(content.get("sourcePk") or "")
    if model is None or not pk.isdigit():
        return None
    found = model.objects.filter(pk=int(pk)).values_list("uuid", flat=True).first()
    return str(found) if found else None


def record_deltas(c, project: FieldProject) -> int:
    """Stores the server's delta list; raises a Conflict for each delta the server did not apply (naming the layer
    and the feature as the platform knows them) and settles it when the server applies it later. Returns how many
    problem deltas are new since the last pull."""
    deltas = _call("读取变更记录", c._request_json, "GET", f"deltas/{project.cloud_project_id}/")
    problems = 0
    for d in deltas:
        CloudDelta.objects.update_or_create(
            project=project, delta_id=str(d["id"]),
            defaults={"deltafile_id": str(d.get("deltafile_id") or ""), "status": d.get("status", ""),
                      "created_by": str(d.get("created_by") or ""), "created_at": str(d.get("created_at") or ""),
                      "output": str(d.get("output") or "")[:2000], "content": d.get("content") or {}})  # fmt: skip
        label = PROBLEM_STATUSES.get(d.get("status", ""))
        mine = Conflict.objects.filter(project=project, kind="cloud_delta", message__startswith=f"云端变更 {d['id']}")
        if label:
            content = d.get("content") or {}
            layer = _layer_key(str(content.get("sourceLayerId", "")))
            feature = _feature_uuid(layer, content)
            reason = _server_text(d.get("output") or d.get("last_feedback"))
            what = f"{LAYER_TITLES.get(layer, layer)} 要素 {feature[:8] if feature else '（编号 ' + str(content.get('sourcePk')) + '）'}"
            _, created = Conflict.objects.get_or_create(
                project=project,
                kind="cloud_delta",
                uuid=feature or "00000000-0000-0000-0000-000000000000",
                layer=layer[:40],
                message__startswith=f"云端变更 {d['id']}",
                defaults={"field": content, "message": f"云端变更 {d['id']}：{what}的外业修改{label}。{reason}"[:300]},
            )
            problems += created
        elif d.get("status") == "STATUS_APPLIED":
            mine.filter(status=ConflictStatus.OPEN).update(status=ConflictStatus.SETTLED, resolved_at=timezone.now())
    return problems


def _server_text(output) -> str:
    """The server's own words: its feedback may be a list or dict of messages, never shown as a Python repr."""
    if not output:
        return ""
    if isinstance(output, dict):
        output = output.get("msg") or output.get("message") or "; ".join(f"{k}: {v}" for k, v in output.items())
    elif isinstance(output, list):
        output = "; ".join(_server_text(o) for o in output)
    return f"云端说明：{str(output).strip()[:200]}"


def pull(project: FieldProject, dest: Path, *, by, progress=None) -> ImportReport:
    from qfieldcloud_sdk.sdk import JobTypes

    say = progress or (lambda *a, **k: None)
    if not project.cloud_project_id:
        raise CloudError("该项目尚未推送到 QFieldCloud")
    say(0, 5, "连接 QFieldCloud")
    c = client()
    pid = project.cloud_project_id
    say(1, 5, "等待云端应用外业修改")
    failed = []
    for job in _call("查询任务", c.list_jobs, pid, JobTypes.APPLY_DELTAS):
        if job["status"] in BUSY_JOB_STATUSES:
            wait_job(c, job["id"], what="应用修改")
        elif job["status"] == "failed":
            # The job list never carries the reason; only the job itself does.
            detail = _call("查询任务", c.job_status, job["id"])
            reason = str(detail.get("output") or "").strip()[-300:] or "云端未说明原因"
            log.warning("delta_apply job %s failed: %s", job["id"], reason)
            failed.append(f"云端应用外业修改的任务失败（{str(job.get('created_at', ''))[:16]}）：{reason}")
    problems = record_deltas(c, project)
    say(2, 5, "下载数据与照片")
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    for pattern in ("*.gpkg", "DCIM/*"):
        # Files already here with the server's md5 are not downloaded again (a pull of 1,000 photos, once).
        files = _call("下载文件", c.download_project, pid, str(dest), filter_glob=pattern, throw_on_error=True)
        bad = [f["name"] for f in files if str(f.get("status", "")).endswith("FAILED")]
        if bad:
            raise CloudError(f"下载失败：{'、'.join(bad)}")
    say(3, 5, "导入平台")
    report = import_folder(dest, by=by)
    if problems:
        report.notes.append(f"云端有 {problems} 条外业修改未被应用（冲突/出错），已列入冲突待处理")
    report.notes.extend(failed)
    info = _call("读取云端项目", c.get_project, pid)
    FieldProject.objects.filter(pk=project.pk).update(cloud_data_updated_at=str(info.get("data_last_updated_at") or ""))
    say(5, 5, report.summary(), force=True)
    return report
