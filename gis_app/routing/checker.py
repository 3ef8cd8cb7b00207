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
