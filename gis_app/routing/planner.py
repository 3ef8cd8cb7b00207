"""Joint-inspection day planning, free of Django: teams (one vehicle each) with start/end places, shifts and a break;
stops with a priority, a service time, an optional time window and optional locks. Times are seconds from 00:00 of the
plan's date (a night window 22:00–05:00 is 79200–104400); the matrix holds travel seconds between nodes.

Objective, in this order: visit the stops of highest priority that fit (a skipped stop costs its priority), then least
travel time. PyVRP solves it with prizes; each prize is priority × a weight larger than any plan's total travel, so no
saving in travel ever buys a skipped priority point.

Two things PyVRP has no notion of are handled around it, and the independent checker judges the result:
- locks to a position: a team's position-locked stops form the fixed start of its day (in position order); the solver
  plans the rest of the day from where and when that prefix ends;
- the break: the solver plans with the shift shortened by the break; the break is then placed at the first moment the
  crew is between two visits inside the break window. If that pushes a visit out of its window or the crew past its
  shift, the lowest-priority unlocked stop of that route is dropped (reason given) and the day rebuilt.
"""

import time
from dataclasses import dataclass, field

from .checker import check_day
from .solver import _is_client


@dataclass
class TeamSpec:
    key: str
    start: int  # matrix node
    end: int
    shift_start: int  # seconds
    shift_end: int
    break_earliest: int | None = None  # the break starts inside [earliest, latest]
    break_latest: int | None = None
    break_seconds: int = 0

    @property
    def has_break(self) -> bool:
        return self.break_seconds > 0 and self.break_earliest is not None and self.break_latest is not None


@dataclass
class StopSpec:
    key: str
    node: int
    priority: int  # ≥ 1
    service: int  # seconds
    window: tuple[int, int] | None = None  # service must start inside it
    locked_team: str | None = None
    locked_position: int | None = None  # 1-based; needs locked_team
    urgent: bool = False  # a listed or open major hazard: outranks any number of ordinary stops


@dataclass
class Visit:
    key: str
    arrival: int
    start: int  # service start (after waiting for the window)
    departure: int


@dataclass
class TeamDay:
    team: str
    visits: list[Visit] = field(default_factory=list)
    departure: int = 0  # leaves the start place
    arrival: int = 0  # back at the end place
    break_start: int | None = None
    break_end: int | None = None
    travel: int = 0  # seconds driven


@dataclass
class DayPlan:
    days: list[TeamDay]
    skipped: dict[str, str]  # stop key → reason (Chinese, shown to the planner)
    travel: int
    priority_visited: int
    priority_skipped: int
    seconds: float
    violations: list[str]


class PlanningError(ValueError):
    pass


def validate(matrix: list[list[int]], teams: list[TeamSpec], stops: list[StopSpec]) -> None:
    errors = []
    n = len(matrix)
    if not teams:
        errors.append("至少需要一个检查组")
    keys = {t.key for t in teams}
    for t in teams:
        if t.shift_end <= t.shift_start:
            errors.append(f"检查组 {t.key}：收班时间须晚于出发时间")
        if t.has_break and not (t.shift_start <= t.break_earliest <= t.break_latest <= t.shift_end):
            errors.append(f"检查组 {t.key}：休息时段须在班次内")
        if not (0 <= t.start < n and 0 <= t.end < n):
            errors.append(f"检查组 {t.key}：起止地点无效")
    positions: dict[tuple[str, int], str] = {}
    for s in stops:
        if s.priority < 1:
            errors.append(f"{s.key}：优先级须为正整数")
        if s.service < 0:
            errors.append(f"{s.key}：检查时长不能为负")
        if s.window and s.window[1] < s.window[0]:
            errors.append(f"{s.key}：时间窗结束早于开始")
        if s.locked_team is not None and s.locked_team not in keys:
            errors.append(f"{s.key}：锁定的检查组不存在")
        if s.locked_position is not None:
            if s.locked_team is None:
                errors.append(f"{s.key}：锁定顺序须同时锁定检查组")
            elif (s.locked_team, s.locked_position) in positions:
                errors.append(f"{s.key}：与 {positions[(s.locked_team, s.locked_position)]} 锁定了同一顺序")
            else:
                positions[(s.locked_team, s.locked_position)] = s.key
    for t in teams:
        taken = sorted(p for (team, p) in positions if team == t.key)
        if taken != list(range(1, len(taken) + 1)):
            errors.append(f"检查组 {t.key}：锁定顺序须从第 1 站起连续")
    if errors:
        raise PlanningError("；".join(errors))


def schedule(matrix, team: TeamSpec, order: list[StopSpec]) -> tuple[TeamDay, list[str]]:
    """Times for a team visiting `order`: waits for windows, takes the break at the first gap inside its window.
    Returns the day and the problems found (empty when the day works)."""
    day = TeamDay(team=team.key, departure=team.shift_start)
    t, here, problems = team.shift_start, team.start, []
    taken = not team.has_break

    def take_break(now: int) -> int:
        nonlocal taken
        start = max(now, team.break_earliest)
        day.break_start, day.break_end = start, start + team.break_seconds
        taken = True
        if start > team.break_latest:
            problems.append("休息无法在规定时段内开始")
        return day.break_end

    for stop in order:
        leg = matrix[here][stop.node]
        if not taken:
            arrive = t + leg
            opens = stop.window[0] if stop.window else arrive
            # Break now if we are in its window, or if going on would start the next visit after the latest break start.
            if t >= team.break_earliest or max(arrive, opens) + stop.service > team.break_latest:
                t = take_break(t)
        arrival = t + leg
        start = max(arrival, stop.window[0]) if stop.window else arrival
        if stop.window and start > stop.window[1]:
            problems.append(f"{stop.key} 超出时间窗")
        day.visits.append(Visit(stop.key, arrival, start, start + stop.service))
        day.travel += leg
        t, here = start + stop.service, stop.node
    if not taken:
        t = take_break(t)
    day.travel += matrix[here][team.end]
    day.arrival = t + matrix[here][team.end]
    if day.arrival > team.shift_end:
        problems.append("超出收班时间")
    return day, problems


def plan_day(matrix: list[list[int]], teams: list[TeamSpec], stops: list[StopSpec], *, seconds: float = 2.0,
             seed: int = 1) -> DayPlan:  # fmt: skip
    validate(matrix, teams, stops)
    started = time.perf_counter()
    by_key = {s.key: s for s in stops}
    prefixes: dict[str, list[StopSpec]] = {t.key: [] for t in teams}
    for s in sorted((s for s in stops if s.locked_position is not None), key=lambda s: s.locked_position):
        prefixes[s.locked_team].append(s)
    free = [s for s in stops if s.locked_position is None]
    orders, skipped = _solve(matrix, teams, free, prefixes, seconds, seed)
    team_of = {t.key: t for t in teams}
    days = []
    for t in teams:
        order = prefixes[t.key] + orders.get(t.key, [])
        while True:
            day, problems = schedule(matrix, t, order)
            if not problems:
                break
            droppable = [s for s in order if s.locked_team is None]
            if not droppable:  # only locked stops left: keep the day and let the checker report it
                break
            worst = min(droppable, key=lambda s: (s.urgent, s.priority, -order.index(s)))
            order.remove(worst)
            skipped[worst.key] = ("必查机构：" if worst.urgent else "") + "加入休息后时间不足"
        days.append(day)
    visited = {v.key for d in days for v in d.visits}
    violations = check_day(matrix, team_of, by_key, days, skipped)
    return DayPlan(
        days=days,
        skipped=skipped,
        travel=sum(d.travel for d in days),
        priority_visited=sum(by_key[k].priority for k in visited),
        priority_skipped=sum(by_key[k].priority for k in skipped),
        seconds=time.perf_counter() - started,
        violations=violations,
    )


def _solve(matrix, teams, free, prefixes, seconds, seed):
    """PyVRP on the unlocked-position stops; every team starts where its locked prefix ends."""
    from pyvrp import Model, PenaltyParams, SolveParams
    from pyvrp.stop import MaxRuntime

    if not free:
        return {}, {}
    starts = []
    for t in teams:
        day, _ = schedule(matrix, TeamSpec(t.key, t.start, t.end, t.shift_start, t.shift_end), prefixes[t.key])
        node = prefixes[t.key][-1].node if prefixes[t.key] else t.start
        starts.append((node, day.visits[-1].departure if day.visits else t.shift_start))
    n = len(matrix)
    horizon = max(t.shift_end for t in teams) + 1
    weight = max(max(row) for row in matrix) * (len(free) + 2 * len(teams) + 1) + 1
    m = Model()
    locations = [m.add_location(0, 0) for _ in range(n)]
    locked_elsewhere = {t.key: {s.node for s in free if s.locked_team not in (None, t.key)} for t in teams}
    use_profiles = any(locked_elsewhere.values())
    profiles = [m.add_profile() for _ in teams] if use_profiles else [None] * len(teams)
    for t, (node, ready), profile in zip(teams, starts, profiles, strict=True):
        depart, back = m.add_depot(locations[node]), m.add_depot(locations[t.end])
        m.add_vehicle_type(num_available=1, start_depot=depart, end_depot=back, tw_early=ready, tw_late=max(
            ready, t.shift_end - (t.break_seconds if t.has_break else 0)), profile=profile, name=t.key)  # fmt: skip
    for s in free:
        early, late = s.window if s.window else (0, horizon)
        m.add_client(
            locations[s.node],
            service_duration=s.service,
            tw_early=early,
            tw_late=late,
            prize=_prize(s, free) * weight,
            required=s.locked_team is not None,
            name=s.key,
        )
    big = weight * 1000
    for t, profile in zip(teams, profiles, strict=True):
        barred = locked_elsewhere[t.key]
        for i in range(n):
            for j in range(n):
                if i != j:
                    d = big if (i in barred or j in barred) else matrix[i][j]
                    m.add_edge(locations[i], locations[j], distance=d, duration=d, profile=profile)
        if not use_profiles:
            break
    # Prizes dwarf travel (that is the hierarchy), so time-window penalties must be allowed to grow past them, or the
    # search settles for plans that collect prizes by arriving late.
    top = max(_prize(s, free) for s in free)
    params = SolveParams(penalty=PenaltyParams(max_penalty=float(weight) * 1000 * top))
    result = m.solve(stop=MaxRuntime(seconds), seed=seed, display=False, params=params)
    orders, visited = {}, set()
    for route in result.best.routes():  # activities: start depot, clients (idx = order of add_client), end depot
        order = [free[int(a.idx)] for a in route if _is_client(a)]
        orders[teams[route.vehicle_type()].key] = order
        visited.update(s.key for s in order)
    skipped = {s.key: _why_skipped(s, teams, matrix) for s in free if s.key not in visited}
    return orders, skipped


def _prize(stop: StopSpec, stops: list[StopSpec]) -> int:
    """An urgent stop is worth more than all ordinary stops together: the plan never trades one for several others."""
    if not stop.urgent:
        return stop.priority
    return stop.priority + sum(s.priority for s in stops if not s.urgent) + 1


def _why_skipped(stop: StopSpec, teams: list[TeamSpec], matrix=None) -> str:
    if stop.window and not any(stop.window[0] < t.shift_end and t.shift_start <= stop.window[1] for t in teams):
        return "时间窗与各检查组班次不重叠"
    if not stop.urgent:
        return "班次内时间不足（优先级较低）"
    # An urgent stop is dropped only when it cannot fit: say whether it fits any team's day on its own.
    alone = [t for t in teams if matrix is not None and not schedule(matrix, t, [stop])[1]]
    if not alone:
        minutes = stop.service // 60
        return f"必查机构：即使只检查这一家（{minutes} 分钟），各检查组也无法在班次内往返完成"
    return "必查机构：与其他必查或锁定的安排一起超出班次，请增加检查组、延长班次或改期"
