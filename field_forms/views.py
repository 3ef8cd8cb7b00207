from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from gis_app.carehomes.scope import visible_carehomes, visible_subdistricts
from gis_app.jobs.services import enqueue
from gis_app.routing.services import visible_plans

from . import cloud, services
from .models import Conflict, ConflictStatus, FieldProject
from .spec import ScopeError, resolve_scope


@login_required
def field_home(request):
    projects = services.visible_projects(request.user)
    ids = [p.pk for p in projects]
    conflicts = list(
        Conflict.objects.filter(project_id__in=ids, status=ConflictStatus.OPEN)
        .select_related("project")
        .order_by("-created_at")[:200]
    )
    for conflict in conflicts:
        conflict.rows = services.conflict_rows(conflict)
    homes = visible_carehomes(request.user).order_by("name").only("pk", "name")
    return render(request, "field_forms/home.html", {
        "projects": projects, "conflicts": conflicts, "homes": homes, "subdistricts": visible_subdistricts(request.user),
        "routes": visible_plans(request.user).exclude(planned_at=None)[:50], "cloud": cloud.configured(),
        "can_sync": services.can_sync(request.user)})  # fmt: skip


@login_required
@require_POST
def field_generate(request):
    scope = request.POST.get("scope", "")
    action = request.POST.get("action", "package")
    try:
        resolved = resolve_scope(scope, request.user)
    except ScopeError as exc:
        messages.error(request, str(exc))
        return redirect("field-home")
    if action == "push":
        if not services.can_sync(request.user):
            raise Http404
        if not cloud.configured():
            messages.error(request, "未配置 QFieldCloud（QFIELDCLOUD_URL / QFIELDCLOUD_TOKEN）")
            return redirect("field-home")
        job = enqueue(kind="field_forms.push", title=f"推送 QField 项目：{resolved.label}", params={"scope": scope},
                      created_by=request.user, max_attempts=1)  # fmt: skip
    else:
        job = enqueue(kind="field_forms.package", title=f"生成 QField 项目：{resolved.label}", params={"scope": scope},
                      created_by=request.user, max_attempts=1)  # fmt: skip
    return redirect("job-detail", pk=job.pk)


MAX_UPLOAD = 500 * 1024 * 1024


@login_required
@require_POST
def field_upload(request):
    """A project folder returned by cable, zipped: the same import as a cloud pull, as a background job."""
    if not services.can_sync(request.user):
        raise Http404
    upload = request.FILES.get("archive")
    if upload is None or not upload.name.lower().endswith(".zip"):
        messages.error(request, "请选择从平板拷回的项目文件夹压缩成的 zip 文件")
        return redirect("field-home")
    if upload.size > MAX_UPLOAD:
        messages.error(request, "文件超过 500 MB，请分机构生成项目或使用命令行导入")
        return redirect("field-home")
    job = enqueue(kind="field_forms.import_zip", title=f"导入外业回传：{upload.name}", payload=upload.read(),
                  payload_name=upload.name, created_by=request.user, max_attempts=1)  # fmt: skip
    return redirect("job-detail", pk=job.pk)


@login_required
@require_POST
def field_pull(request, pk: int):
    project = get_object_or_404(FieldProject, pk=pk)
    if project not in services.visible_projects(request.user) or not services.can_sync(request.user):
        raise Http404
    job = enqueue(kind="field_forms.pull", title=f"从 QFieldCloud 拉取：{project.title}", params={"project": project.pk},
                  created_by=request.user, max_attempts=1)  # fmt: skip
    return redirect("job-detail", pk=job.pk)


@login_required
@require_POST
def conflict_resolve(request, pk: int):
    conflict = get_object_or_404(Conflict.objects.select_related("project"), pk=pk)
    if conflict.project not in services.visible_projects(request.user) or not services.can_sync(request.user):
        raise Http404
    try:
        services.resolve_conflict(request.user, conflict, take_field=request.POST.get("take") == "field")
    except services.FieldError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, "冲突已处理")
    return redirect("field-home")
