"""Route plans: choosing candidate homes, creating a plan, solving it (a background job), and changing it.

Every change that alters the plan's inputs (add or remove a stop, lock one, edit its time) marks the plan DRAFT and
queues a re-plan: the locks are kept, the rest is planned again.
"""

import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from django.conf import settings
from django.contrib.gis.geos import Point
from django.db import transaction
from django.db.models import Count, Exists, OuterRef, Q
from django.utils import timezone

from gis_app.carehomes.models import CareHome, CareHomeStatus, Role
from gis_app.carehomes.scope import role_of, visible_carehomes
from gis_app.hazards.models import Hazard, Severity
from gis_app.lib import clock
from gis_app.lib.versioning import row_version

from .models import Place, PlanStatus, PlanStop, RoutePlan, Team
from .planner import PlanningError, StopSpec, TeamSpec, plan_day
from .travel import travel_matrix

NIGHT_WINDOW = (22 * 60, 29 * 60)  # 22:00–05:00 next day, in minutes from the plan day's midnight
MAX_STOPS = 150


class RoutingError(ValueError):
    """A request the planner refuses, with a message for the user (Chinese)."""


def can_plan(user) -> bool:
    return role_of(user) in (Role.BUREAU, Role.FIRE_RESCUE)


def visible_plans(user):
    """Bureau and fire rescue plan and see every plan; a street office sees plans that visit homes of its 街镇 (and
    only those stops: see plan_stops_for)."""
    role = role_of(user)
    if role in (Role.BUREAU, Role.FIRE_RESCUE):
        return RoutePlan.objects.all()
    if role == Role.SUBDISTRICT:
        homes = visible_carehomes(user)
        return RoutePlan.objects.filter(Exists(PlanStop.objects.filter(plan=OuterRef("pk"), care_home__in=homes)))
    return RoutePlan.objects.none()


def plan_stops_for(user, plan: RoutePlan):
    stops = plan.stops.select_related("care_home", "care_home__subdistrict", "team", "locked_team")
    if can_plan(user):
        return stops
    return stops.filter(care_home__in=visible_carehomes(user))


def default_service_minutes(home: CareHome) -> int:
    """30 minutes plus one per 5 beds, at most 120: a 100-bed home takes 50 minutes to walk through with its staff."""
    return min(120, 30 + (home.beds or 0) // 5)


def priority_of(score: float | None) -> int:
    return max(1, round(score or 0))


def urgent_homes(home_ids) -> set[int]:
    """Homes a joint inspection must not leave out: an open major hazard, or one under listed supervision."""
    from gis_app.hazards.models import SupervisionListing

    majors = Hazard.objects.open().filter(severity=Severity.MAJOR, care_home_id__in=home_ids)
    listed = SupervisionListing.objects.filter(delisted_on=None, hazard__care_home_id__in=home_ids)
    return set(majors.values_list("care_home_id", flat=True)) | set(
        listed.values_list("hazard__care_home_id", flat=True)
    )


@dataclass
class Candidate:
    home: CareHome
    reason: str


def select_candidates(user, *, mode: str, limit: int = 30, subdistrict_id: int | None = None,
                      home_ids: list[int] | None = None) -> list[Candidate]:  # fmt: skip
    homes = visible_carehomes(user).filter(status=CareHomeStatus.OPERATING).select_related("risk")
    overdue_major = Hazard.objects.overdue(clock.today()).filter(severity=Severity.MAJOR)
    homes = homes.annotate(overdue_majors=Count("hazards", filter=Q(hazards__in=overdue_major), distinct=True))
    order = ["-risk__score", "pk"]
    if mode != "hand":  # 未定位 homes cannot be routed; the planning page counts them with a link to 待定位
        homes = homes.exclude(location=None)
    if mode == "risk":
        chosen, why = homes.order_by(*order)[:limit], "风险分靠前"
    elif mode == "overdue_major":
        chosen, why = homes.filter(overdue_majors__gt=0).order_by("-overdue_majors", *order)[:limit], "有逾期重大隐患"
    elif mode == "subdistrict":
        if not subdistrict_id:
            raise RoutingError("请选择街镇")
        chosen, why = homes.filter(subdistrict_id=subdistrict_id).order_by(*order)[:limit], "按街镇选取"
    elif mode == "hand":
        ids = [int(i) for i in home_ids or []]
        chosen, why = homes.filter(pk__in=ids).order_by(*order), "人工选取"
        if len(chosen) != len(set(ids)):
            raise RoutingError("所选养老机构中有不存在或无权查看的机构")
        _refuse_unlocated(chosen)
    else:
        raise RoutingError("未知的选取方式")
    chosen = list(chosen)
    if not chosen:
        raise RoutingError("没有符合条件的养老机构")
    if len(chosen) > MAX_STOPS:
        raise RoutingError(f"一次最多规划 {MAX_STOPS} 家养老机构")
    return [Candidate(h, why + (f"（逾期重大隐患 {h.overdue_majors} 项）" if h.overdue_majors else "")) for h in chosen]


def _refuse_unlocated(homes) -> None:
    missing = [h.name for h in homes if h.location is None]
    if missing:
        raise RoutingError(f"尚未定位，无法排入路线：{'、'.join(missing)}（请先在“待定位”列表中标定位置）")


@dataclass
class TeamInput:
    name: str
    start_name: str
    start: Point
    end_name: str
    end: Point
    shift_start: int  # minutes
    shift_end: int
    break_earliest: int | None = None
    break_latest: int | None = None
    break_minutes: int = 0
    members: str = ""


def create_plan(user, *, title: str, day: date, teams: list[TeamInput], candidates: list[Candidate],
                night: bool = False, speed_kmh: float = 30.0, circuity: float = 1.35,
                solver_seconds: float = 3.0) -> RoutePlan:  # fmt: skip
    if not can_plan(user):
        raise RoutingError("只有区民政局和消防救援人员可以规划联合检查路线")
    if not teams:
        raise RoutingError("至少需要一个检查组")
    if len({t.name for t in teams}) != len(teams):
        raise RoutingError("检查组名称不能重复")
    if not 5 <= speed_kmh <= 120 or not 1.0 <= circuity <= 3.0 or not 0.5 <= solver_seconds <= 60:
        raise RoutingError("车速须在 5–120 公里/小时，绕行系数 1–3，求解时长 0.5–60 秒")
    for t in teams:
        _check_team(t.name, t.shift_start, t.shift_end, t.break_earliest, t.break_latest, t.break_minutes)
    with transaction.atomic():
        plan = RoutePlan.objects.create(title=title, date=day, speed_kmh=speed_kmh, circuity=circuity,
                                        solver_seconds=solver_seconds, created_by=user)  # fmt: skip
        for t in teams:
            Team.objects.create(plan=plan, **t.__dict__)
        window = NIGHT_WINDOW if night else (None, None)
        urgent = urgent_homes([c.home.pk for c in candidates])
        PlanStop.objects.bulk_create([
            PlanStop(plan=plan, care_home=c.home, reason=c.reason, service_minutes=default_service_minutes(c.home),
                     priority=priority_of(_score(c.home)), urgent=c.home.pk in urgent,
                     window_start=window[0], window_end=window[1])
            for c in candidates
        ])  # fmt: skip
    return plan


def _check_team(name, shift_start, shift_end, break_earliest, break_latest, break_minutes) -> None:
    if shift_end <= shift_start:
        raise RoutingError(f"{name}：收班时间须晚于出发时间")
    if shift_end - shift_start > 16 * 60:
        raise RoutingError(f"{name}：班次不能超过 16 小时")
    if break_minutes:
        if break_earliest is None or break_latest is None:
            raise RoutingError(f"{name}：请填写休息时段")
        if not shift_start <= break_earliest <= break_latest <= shift_end:
            raise RoutingError(f"{name}：休息时段须在班次内")


def queue_plan(plan: RoutePlan, user) -> "object":
    from gis_app.jobs.services import enqueue

    with transaction.atomic():
        plan = RoutePlan.objects.select_for_update().get(pk=plan.pk)
        job = enqueue(kind="routing.plan", title=f"规划联合检查路线：{plan.title}", params={"plan": plan.pk},
                      created_by=user, max_attempts=2)  # fmt: skip
        plan.status, plan.job, plan.message = PlanStatus.PLANNING, job, "排队中"
        plan.save(update_fields=["status", "job", "message"])
    return job


def solve_plan(plan: RoutePlan, progress=None) -> RoutePlan:
    """Builds the matrix, solves, checks, and stores the result in one transaction."""
    say = progress or (lambda *a, **k: None)
    teams = list(plan.teams.all())
    stops = list(plan.stops.select_related("care_home"))
    if not stops:
        raise RoutingError("路线中没有养老机构")
    say(1, 4, "计算行程时间")
    points = [(t.start.x, t.start.y) for t in teams] + [(t.end.x, t.end.y) for t in teams]
    points += [(s.care_home.location.x, s.care_home.location.y) for s in stops]
    matrix = travel_matrix(points, speed_kmh=plan.speed_kmh, circuity=plan.circuity)
    k = len(teams)
    team_specs = [
        TeamSpec(str(t.pk), i, k + i, t.shift_start * 60, t.shift_end * 60,
                 t.break_earliest * 60 if t.break_minutes else None, t.break_latest * 60 if t.break_minutes else None,
                 t.break_minutes * 60)
        for i, t in enumerate(teams)
    ]  # fmt: skip
    stop_specs = [
        StopSpec(str(s.pk), 2 * k + i, s.priority, s.service_minutes * 60,
                 (s.window_start * 60, s.window_end * 60) if s.window_start is not None else None,
                 str(s.locked_team_id) if s.locked_team_id else None, s.locked_position, s.urgent)
        for i, s in enumerate(stops)
    ]  # fmt: skip
    say(2, 4, f"求解中（{plan.solver_seconds:g} 秒）")
    try:
        result = plan_day(matrix.seconds, team_specs, stop_specs, seconds=plan.solver_seconds)
    except PlanningError as exc:
        raise RoutingError(str(exc)) from None
    say(3, 4, "校验并保存")
    by_pk = {s.pk: s for s in stops}
    with transaction.atomic():
        plan = RoutePlan.objects.select_for_update().get(pk=plan.pk)
        if plan.planned_at is not None:  # a re-plan: keep what the last plan said, for the before/after comparison
            teams_by_pk = {t.pk: t.name for t in teams}
            plan.previous = {str(s.pk): {"team": teams_by_pk.get(s.team_id), "sequence": s.sequence} for s in stops}
        for s in stops:
            s.team = None
            s.sequence = s.arrival = s.start = s.departure = None
            s.skipped_reason = result.skipped.get(str(s.pk), "")
        for t, day in zip(teams, result.days, strict=True):
            t.departure, t.arrival, t.travel_seconds = day.departure, day.arrival, day.travel
            t.break_start, t.break_end = day.break_start, day.break_end
            t.save(update_fields=["departure", "arrival", "travel_seconds", "break_start", "break_end"])
            for n, v in enumerate(day.visits, start=1):
                s = by_pk[int(v.key)]
                s.team, s.sequence, s.arrival, s.start, s.departure = t, n, v.arrival, v.start, v.departure
        PlanStop.objects.bulk_update(stops, ["team", "sequence", "arrival", "start", "departure", "skipped_reason"])
        plan.travel_mode, plan.travel_note = matrix.mode, matrix.note
        plan.travel_seconds, plan.violations = result.travel, result.violations
        plan.priority_visited, plan.priority_skipped = result.priority_visited, result.priority_skipped
        plan.status = PlanStatus.FAILED if result.violations else PlanStatus.PLANNED
        plan.message = (
            "独立校验未通过，请勿使用"
            if result.violations
            else (f"安排 {sum(len(d.visits) for d in result.days)} 家，未安排 {len(result.skipped)} 家")
        )
        plan.planned_at = timezone.now()
        plan.save()
    say(4, 4, plan.message, force=True)
    return plan


def compare_with_previous(plan: RoutePlan, stops: list[PlanStop]) -> list[dict]:
    """What a re-plan changed, stop by stop: newly placed, left out (with the reason), moved to another team."""
    if not plan.previous:
        return []
    rows = []
    for s in stops:
        before = plan.previous.get(str(s.pk))
        if before is None:
            rows.append({"stop": s, "change": "新加入", "detail": s.team.name if s.team else s.skipped_reason})
            continue
        after_team = s.team.name if s.team else None
        if before["team"] and not after_team:
            rows.append({"stop": s, "change": "移出", "detail": f"原在{before['team']}；{s.skipped_reason}"})
        elif not before["team"] and after_team:
            rows.append({"stop": s, "change": "新安排", "detail": f"{after_team} 第 {s.sequence} 站"})
        elif before["team"] != after_team:
            rows.append({"stop": s, "change": "换组", "detail": f"{before['team']} → {after_team}"})
    order = {"移出": 0, "新安排": 1, "换组": 2, "新加入": 3}
    return sorted(rows, key=lambda r: (order[r["change"]], -r["stop"].priority))


def _changed(plan: RoutePlan) -> None:
    RoutePlan.objects.filter(pk=plan.pk).update(status=PlanStatus.DRAFT, message="已修改，待重新规划")


def _editable(user, plan: RoutePlan) -> None:
    if not can_plan(user):
        raise RoutingError("只有区民政局和消防救援人员可以修改路线")
    if plan.status == PlanStatus.PLANNING:
        raise RoutingError("路线正在规划中，请稍候再修改")


def add_stop(user, plan: RoutePlan, home_id: int) -> PlanStop:
    _editable(user, plan)
    home = visible_carehomes(user).select_related("risk").filter(pk=home_id).first()
    if home is None:
        raise RoutingError("养老机构不存在或无权查看")
    _refuse_unlocated([home])
    if plan.stops.filter(care_home=home).exists():
        raise RoutingError(f"{home.name} 已在路线中")
    if plan.stops.count() >= MAX_STOPS:
        raise RoutingError(f"一次最多规划 {MAX_STOPS} 家养老机构")
    first = plan.stops.exclude(window_start=None).first()
    with transaction.atomic():
        stop = PlanStop.objects.create(
            plan=plan, care_home=home, reason="人工添加", service_minutes=default_service_minutes(home),
            priority=priority_of(_score(home)), urgent=home.pk in urgent_homes([home.pk]),
            window_start=first.window_start if first else None, window_end=first.window_end if first else None)  # fmt: skip
        _changed(plan)
    return stop


def remove_stop(user, stop: PlanStop) -> None:
    _editable(user, stop.plan)
    with transaction.atomic():
        stop.delete()
        _changed(stop.plan)


STOP_FIELDS = ["service_minutes", "priority", "window_start", "window_end", "locked_team", "locked_position"]


def stop_version(stop: PlanStop) -> str:
    return row_version(stop, STOP_FIELDS)


def update_stop(
    user,
    stop: PlanStop,
    *,
    service_minutes: int,
    priority: int,
    window: tuple[int, int] | None,
    locked_team: Team | None,
    locked_position: int | None,
    version: str | None = None,
) -> None:
    """With `version` (read with the form), a stop changed by someone else since is refused, not overwritten."""
    _editable(user, stop.plan)
    if not 1 <= service_minutes <= 480:
        raise RoutingError("检查时长须在 1–480 分钟")
    if priority < 1:
        raise RoutingError("优先级须为正整数")
    if window and window[1] < window[0]:
        raise RoutingError("时间窗结束须晚于开始")
    if locked_team is not None and locked_team.plan_id != stop.plan_id:
        raise RoutingError("检查组不属于本路线")
    if locked_position is not None:
        if locked_team is None:
            raise RoutingError("锁定顺序时须同时锁定检查组")
        taken = set(stop.plan.stops.filter(locked_team=locked_team).exclude(pk=stop.pk)
                    .exclude(locked_position=None).values_list("locked_position", flat=True))  # fmt: skip
        if locked_position in taken:
            raise RoutingError(f"{locked_team.name} 的第 {locked_position} 站已锁定给其他机构")
        if sorted(taken | {locked_position}) != list(range(1, len(taken) + 2)):
            raise RoutingError(f"锁定顺序须从第 1 站起连续（{locked_team.name} 已锁定：{sorted(taken) or '无'}）")
    with transaction.atomic():
        current = PlanStop.objects.select_for_update().get(pk=stop.pk)
        if version and stop_version(current) != version:
            raise RoutingError(
                f"{stop.care_home.name} 的站点设置已被他人修改，未保存您的修改：请查看最新设置后重新修改"
            )
        stop.service_minutes, stop.priority = service_minutes, priority
        stop.window_start, stop.window_end = window if window else (None, None)
        stop.locked_team, stop.locked_position = locked_team, locked_position
        stop.save()
        _changed(stop.plan)


def load_places(path: Path | None = None) -> int:
    """Start/end places from fixtures/routing_places.json (idempotent, by name)."""
    path = path or Path(settings.BASE_DIR) / "fixtures" / "routing_places.json"
    changed = 0
    for item in json.loads(path.read_text(encoding="utf-8")):
        _, created = Place.objects.update_or_create(
            name=item["name"], defaults={"location": Point(item["lon"], item["lat"], srid=4326), "note": item["note"]}
        )
        changed += created
    return changed


def parse_hhmm(text: str, *, after: int | None = None) -> int:
    """'08:30' → 510 minutes. With `after`, a time not later than it is on the next day (21:00–06:00 → 1260–1800)."""
    try:
        hours, minutes = (int(x) for x in text.strip().split(":"))
    except ValueError:
        raise RoutingError(f"时间格式应为 时:分（如 08:30），收到“{text}”") from None
    if not (0 <= hours <= 23 and 0 <= minutes <= 59):
        raise RoutingError(f"时间无效：“{text}”")
    value = hours * 60 + minutes
    if after is not None and value <= after:
        value += 1440
    return value


def hhmm(seconds_or_minutes: int | None, *, unit: str = "s") -> str:
    if seconds_or_minutes is None:
        return ""
    minutes = seconds_or_minutes // 60 if unit == "s" else seconds_or_minutes
    day, rest = divmod(int(minutes), 1440)
    return f"{'次日' if day else ''}{rest // 60:02d}:{rest % 60:02d}"


def _score(home: CareHome) -> float:
    try:
        return home.risk.score
    except CareHome.risk.RelatedObjectDoesNotExist:
        return 0.0
