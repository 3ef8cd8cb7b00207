from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import F
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from gis_app.carehomes.scope import visible_carehomes, visible_subdistricts
from gis_app.lib.excel import xlsx_response
from gis_app.lib.maps import render_parts

from . import output, services
from .forms import PlanForm, StopForm
from .models import PlanStatus, PlanStop
from .services import RoutingError, can_plan, hhmm


def _plan(request, pk: int):
    return get_object_or_404(services.visible_plans(request.user), pk=pk)


@login_required
def plan_list(request):
    plans = services.visible_plans(request.user).select_related("created_by")[:200]
    if not can_plan(request.user) and not plans:
        raise Http404
    form = None
    if can_plan(request.user):
        homes, capped, query = _pick_list(request)
        form = PlanForm(
            request.POST or None, subdistricts=visible_subdistricts(request.user).only("code", "name"), homes=homes
        )
        form.pick_capped, form.pick_query = capped, query
        if request.method == "POST" and form.is_valid():
            try:
                d = form.cleaned_data
                teams = form.teams()
                candidates = services.select_candidates(
                    request.user, mode=d["mode"], limit=d["limit"], subdistrict_id=int(d["subdistrict"] or 0) or None,
                    home_ids=d["homes"])  # fmt: skip
                plan = services.create_plan(request.user, title=d["title"], day=d["date"], teams=teams,
                                            candidates=candidates, night=d["night"], speed_kmh=d["speed_kmh"],
                                            circuity=d["circuity"], solver_seconds=d["solver_seconds"])  # fmt: skip
            except RoutingError as exc:
                form.add_error(None, str(exc))
            else:
                services.queue_plan(plan, request.user)
                messages.success(request, f"已创建路线“{plan.title}”（{len(candidates)} 家候选机构），正在规划")
                return redirect("route-detail", pk=plan.pk)
    unlocated = visible_carehomes(request.user).filter(location=None).count() if form is not None else 0
    return render(request, "routing/list.html", {"plans": plans, "form": form, "unlocated": unlocated})


# A province's 40,000 homes do not fit a pick list: above this, the list shows the highest-risk homes (or those whose
# name matches the search), plus whatever was already ticked.
PICK_LIST_MAX = 500


def _pick_list(request):
    """(the homes to list, whether the list is capped, the name searched for)."""
    # Names only: the 街镇 boundary would otherwise be parsed once per listed home.
    visible = visible_carehomes(request.user).select_related("subdistrict").only("name", "subdistrict__name")
    query = request.GET.get("homes_q", "").strip()[:50]
    if not query and visible.count() <= PICK_LIST_MAX:
        return visible.order_by("subdistrict__name", "name"), False, query
    shown = visible.filter(name__icontains=query) if query else visible
    shown = list(shown.order_by(F("risk__score").desc(nulls_last=True), "name")[:PICK_LIST_MAX])
    ticked = [int(x) for x in request.POST.getlist("homes") if x.isdigit()]
    extra = [h for h in visible.filter(pk__in=ticked) if h not in shown]
    return extra + shown, True, query


@login_required
def plan_detail(request, pk: int):
    plan = _plan(request, pk)
    stops = list(services.plan_stops_for(request.user, plan))
    skipped = [s for s in stops if s.team_id is None]
    teams = output.itineraries(plan, stops)
    context = {"plan": plan, "teams": teams, "skipped": skipped, "editable": can_plan(request.user),
               "urgent_skipped": [s for s in skipped if s.urgent and plan.planned_at is not None],
               "changes": services.compare_with_previous(plan, stops) if plan.planned_at is not None else [],
               "all_stops": sorted(stops, key=lambda s: -s.priority), "planned": plan.planned_at is not None,
               "travel_minutes": round(plan.travel_seconds / 60) if plan.travel_seconds is not None else None}  # fmt: skip
    if plan.planned_at is not None:
        context.update(render_parts(output.route_map(plan, teams, skipped)))
    if can_plan(request.user):
        in_plan = {s.care_home_id for s in stops}
        context["addable"] = [h for h in visible_carehomes(request.user).order_by("name").only("pk", "name")
                              if h.pk not in in_plan]  # fmt: skip
        context["edit_rows"] = [
            (s, hhmm(s.window_start, unit="m")[-5:], hhmm(s.window_end, unit="m")[-5:], services.stop_version(s))
            for s in context["all_stops"]
        ]
        context["team_choices"] = list(plan.teams.all())
    return render(request, "routing/detail.html", context)


@login_required
def itinerary_xlsx(request, pk: int):
    plan = _plan(request, pk)
    if plan.planned_at is None:
        raise Http404
    stops = list(services.plan_stops_for(request.user, plan))
    teams = output.itineraries(plan, stops)
    return xlsx_response(f"联合检查行程单-{plan.date:%Y%m%d}-{plan.pk}",
                         output.itinerary_sheets(plan, teams, [s for s in stops if s.team_id is None]))  # fmt: skip


@login_required
@require_POST
def replan(request, pk: int):
    plan = _plan(request, pk)
    if not can_plan(request.user):
        raise Http404
    if plan.status == PlanStatus.PLANNING:
        messages.error(request, "路线正在规划中")
    else:
        services.queue_plan(plan, request.user)
        messages.success(request, "已开始重新规划")
    return redirect("route-detail", pk=plan.pk)


@login_required
@require_POST
def stop_add(request, pk: int):
    plan = _plan(request, pk)
    home = request.POST.get("home", "")
    try:
        if not home.isdigit():
            raise RoutingError("请选择要添加的养老机构")
        stop = services.add_stop(request.user, plan, int(home))
    except RoutingError as exc:
        messages.error(request, str(exc))
    else:
        services.queue_plan(plan, request.user)
        messages.success(request, f"已添加 {stop.care_home.name}，正在重新规划")
    return redirect("route-detail", pk=plan.pk)


@login_required
@require_POST
def stop_edit(request, pk: int, stop_pk: int):
    plan = _plan(request, pk)
    stop = get_object_or_404(PlanStop.objects.select_related("plan", "care_home"), pk=stop_pk, plan=plan)
    try:
        if request.POST.get("action") == "remove":
            services.remove_stop(request.user, stop)
            note = f"已移除 {stop.care_home.name}"
        else:
            form = StopForm(request.POST, plan=plan)
            if not form.is_valid():
                raise RoutingError("；".join(f"{form.fields[f].label}：{e[0]}" for f, e in form.errors.items()))
            d = form.cleaned_data
            team = plan.teams.filter(pk=d["locked_team"]).first() if d["locked_team"] else None
            services.update_stop(
                request.user,
                stop,
                service_minutes=d["service_minutes"],
                priority=d["priority"],
                window=form.window(),
                locked_team=team,
                locked_position=d["locked_position"],
                version=request.POST.get("version") or None,
            )
            note = f"已更新 {stop.care_home.name}"
    except RoutingError as exc:
        messages.error(request, str(exc))
    else:
        if plan.stops.exists():
            services.queue_plan(plan, request.user)
            note += "，正在重新规划"
        messages.success(request, note)
    return redirect("route-detail", pk=plan.pk)
