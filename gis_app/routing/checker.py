"""An independent feasibility checker: it knows nothing of the solver. It walks each route from the depot, with
waiting when early, and reports every violated rule (each stop once, capacity, time windows, shift end)."""

from dataclasses import dataclass, field

from .problem import Problem


@dataclass
class Check:
    cost: float = 0.0
    violations: list[str] = field(default_factory=list)

    @property
    def feasible(self) -> bool:
        return not self.violations


def check(
    problem: Problem, routes: list[list[int]], *, optional: set[int] | None = None, fleet: int | None = None
) -> Check:
    result = Check()
    seen: dict[int, int] = {}
    for r, route in enumerate(routes):
        for stop in route:
            if not 1 <= stop < problem.size:
                result.violations.append(f"route {r}: unknown stop {stop}")
            elif stop in seen:
                result.violations.append(f"stop {stop} visited twice (routes {seen[stop]} and {r})")
            else:
                seen[stop] = r
    missing = set(range(1, problem.size)) - set(seen) - (optional or set())
    if missing:
        result.violations.append(f"{len(missing)} stops never visited, e.g. {sorted(missing)[:5]}")
    if fleet is not None and len([r for r in routes if r]) > fleet:
        result.violations.append(f"{len(routes)} routes for {fleet} vehicles")
    for r, route in enumerate(routes):
        if not route:
            continue
        load = sum(problem.demand[s] for s in route) if problem.demand else 0
        if problem.demand and load > problem.capacity:
            result.violations.append(f"route {r}: load {load} > capacity {problem.capacity}")
        time, prev = (problem.ready[0] if problem.has_windows else 0.0), 0
        for stop in [*route, 0]:
            d = problem.distance(prev, stop)
            result.cost += d
            time += d
            if problem.has_windows:
                time = max(time, problem.ready[stop])
                if time > problem.due[stop] + 1e-9:
                    where = "the depot (shift end)" if stop == 0 else f"stop {stop}"
                    result.violations.append(f"route {r}: arrives at {where} at {time:.1f} > {problem.due[stop]:.1f}")
            if stop and problem.service:
                time += problem.service[stop]
            prev = stop
    result.cost = round(result.cost, 6)
    return result


def check_day(matrix, teams: dict, stops: dict, days, skipped: dict) -> list[str]:
    """Judges a timed day plan on its own terms (see planner.py for the shapes): every stop visited once or skipped
    with a reason, locks, travel legs long enough (with the break taken in a gap, never during a visit or a drive),
    service started inside its window and lasting its time, shifts respected, the break inside its window."""
    problems: list[str] = []
    seen: dict[str, str] = {}
    for day in days:
        team = teams.get(day.team)
        if team is None:
            problems.append(f"unknown team {day.team}")
            continue
        if day.departure < team.shift_start:
            problems.append(f"{day.team}: leaves at {day.departure} before the shift starts ({team.shift_start})")
        if team.has_break:
            if day.break_start is None:
                problems.append(f"{day.team}: no break")
            else:
                if not team.break_earliest <= day.break_start <= team.break_latest:
                    problems.append(f"{day.team}: break starts at {day.break_start}, outside its window")
                if day.break_end - day.break_start < team.break_seconds:
                    problems.append(f"{day.team}: break shorter than {team.break_seconds} s")
        here, free_from = team.start, day.departure
        for index, visit in enumerate(day.visits):
            stop = stops.get(visit.key)
            if stop is None:
                problems.append(f"{day.team}: unknown stop {visit.key}")
                continue
            if visit.key in seen:
                problems.append(f"{visit.key} visited twice ({seen[visit.key]} and {day.team})")
            seen[visit.key] = day.team
            if stop.locked_team is not None and stop.locked_team != day.team:
                problems.append(f"{visit.key} is locked to {stop.locked_team} but visited by {day.team}")
            if stop.locked_position is not None and index + 1 != stop.locked_position:
                problems.append(f"{visit.key} is locked to position {stop.locked_position} but is {index + 1}")
            needed = matrix[here][stop.node] + _break_inside(day, free_from, visit.arrival)
            if visit.arrival - free_from < needed:
                problems.append(
                    f"{day.team}: reaches {visit.key} at {visit.arrival}, {needed} s are needed after {free_from}"
                )
            if visit.start < visit.arrival:
                problems.append(f"{visit.key}: service starts before arrival")
            if stop.window and not stop.window[0] <= visit.start <= stop.window[1]:
                problems.append(f"{visit.key}: service starts at {visit.start}, outside {stop.window}")
            if visit.departure - visit.start < stop.service:
                problems.append(f"{visit.key}: service shorter than {stop.service} s")
            if day.break_start is not None and day.break_start < visit.departure and visit.start < day.break_end:
                problems.append(f"{day.team}: break overlaps the visit of {visit.key}")
            here, free_from = stop.node, visit.departure
        needed = matrix[here][team.end] + _break_inside(day, free_from, day.arrival)
        if day.arrival - free_from < needed:
            problems.append(f"{day.team}: back at {day.arrival}, {needed} s are needed after {free_from}")
        if day.arrival > team.shift_end:
            problems.append(f"{day.team}: back at {day.arrival}, after the shift ends ({team.shift_end})")
    for key, stop in stops.items():
        if key in seen and key in skipped:
            problems.append(f"{key} both visited and skipped")
        elif key not in seen and key not in skipped:
            problems.append(f"{key} neither visited nor skipped")
        elif key in skipped and stop.locked_team is not None:
            problems.append(f"{key} is locked to {stop.locked_team} but was skipped")
    return problems


def _break_inside(day, begin: int, end: int) -> int:
    if day.break_start is not None and begin <= day.break_start < end:
        return day.break_end - day.break_start
    return 0
