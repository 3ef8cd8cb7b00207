from gis_app.jobs.registry import handler, visible_to
from gis_app.jobs.services import JobError

from .models import PlanStatus, RoutePlan
from .services import RoutingError, solve_plan, visible_plans


@visible_to("routing.plan")
def plan_followers(user, job) -> bool:
    """Whoever may see the plan follows its planning (fire rescue and street offices too, not only its author)."""
    return visible_plans(user).filter(pk=job.params.get("plan")).exists()


@handler("routing.plan")
def run_plan(job, progress) -> dict:
    plan = RoutePlan.objects.get(pk=job.params["plan"])
    try:
        plan = solve_plan(plan, progress)
    except RoutingError as exc:
        RoutePlan.objects.filter(pk=plan.pk).update(status=PlanStatus.FAILED, message=str(exc)[:300])
        raise JobError(str(exc)) from None
    except Exception as exc:
        RoutePlan.objects.filter(pk=plan.pk).update(status=PlanStatus.FAILED, message=f"规划出错：{exc}"[:300])
        raise
    return {"plan": plan.pk, "status": plan.status, "message": plan.message, "url": f"/routes/{plan.pk}/"}
