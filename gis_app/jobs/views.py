from django.contrib.auth.decorators import login_required
from django.http import Http404, JsonResponse
from django.shortcuts import get_object_or_404, render

from gis_app.carehomes.models import Role
from gis_app.carehomes.scope import role_of

from .models import Job
from .registry import may_follow


def _visible_job(request, pk: int) -> Job:
    job = get_object_or_404(Job.objects.defer("payload"), pk=pk)
    if (
        job.created_by_id != request.user.pk
        and role_of(request.user) != Role.BUREAU
        and not may_follow(request.user, job)
    ):
        raise Http404
    return job


@login_required
def job_detail(request, pk: int):
    return render(request, "jobs/detail.html", {"job": _visible_job(request, pk)})


@login_required
def job_status(request, pk: int):
    job = _visible_job(request, pk)
    return JsonResponse(
        {
            "id": job.pk,
            "status": job.status,
            "status_label": job.get_status_display(),
            "percent": job.percent,
            "message": job.message,
            "error": job.error.split("\n\n")[0],
            "finished": job.is_finished,
        }
    )


@login_required
def job_list(request):
    jobs = Job.objects.defer("payload").select_related("created_by")
    if role_of(request.user) != Role.BUREAU:
        jobs = jobs.filter(created_by=request.user)
    return render(request, "jobs/list.html", {"jobs": jobs[:100]})
