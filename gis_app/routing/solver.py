"""The route solvers, chosen on the benchmark (bench/routing.py, README): PyVRP's hybrid genetic search for anything
with time windows, capacities, several vehicles or optional stops; fast-tsp (Or-opt / Lin-Kernighan style local search,
MIT) for a plain symmetric single-vehicle tour, where PyVRP stayed 1–3 % above the optimum on ch150/a280 in 5 s.
This module only translates a Problem to the solver and the result back; feasibility is judged by checker.py."""

import time
from dataclasses import dataclass

from .problem import Problem

SCALE = {"tsp": 1, "trunc1": 10, "exact": 1000}  # PyVRP needs integers: exact to 0.1 (trunc1) or 0.001 (exact)


@dataclass
class Plan:
    routes: list[list[int]]  # node indices (1..n-1), depot 0 implicit at both ends
    cost: float
    vehicles: int
    seconds: float
    skipped: list[int]


def solve(problem: Problem, *, seconds: float, seed: int = 1, fleet: int | None = None, minimise_vehicles: bool = False,
          prizes: list[int] | None = None) -> Plan:  # fmt: skip
    if _plain_tsp(problem, fleet, prizes):
        return _solve_tsp(problem, seconds)
    from pyvrp import Model
    from pyvrp.stop import MaxRuntime

    k = SCALE[problem.convention] if problem.matrix is None else 1000
    n = problem.size
    started = time.perf_counter()
    m = Model()
    locations = [m.add_location(x, y) for x, y in problem.coords]
    horizon = int(problem.due[0] * k) if problem.has_windows else 2**40
    depot = m.add_depot(locations[0], tw_early=int(problem.ready[0] * k) if problem.has_windows else 0, tw_late=horizon)
    total_demand = sum(problem.demand[1:]) if problem.demand else 0
    vehicles = fleet or (1 if problem.convention == "tsp" else max(problem.vehicles, 25))
    # Fewest vehicles first: one vehicle must cost more than any whole plan's distance (out-and-back to every stop).
    big = int(sum(2 * problem.distance(0, j) for j in range(1, n)) * k) + 1 if minimise_vehicles else 0
    m.add_vehicle_type(num_available=vehicles, capacity=problem.capacity if problem.demand else max(1, total_demand),
                       start_depot=depot, end_depot=depot, fixed_cost=big, tw_early=0, tw_late=horizon)  # fmt: skip
    clients = []
    for i in range(1, n):
        clients.append(
            m.add_client(
                locations[i],
                delivery=problem.demand[i] if problem.demand else 0,
                service_duration=int(round(problem.service[i] * k)) if problem.service else 0,
                tw_early=int(problem.ready[i] * k) if problem.has_windows else 0,
                tw_late=int(problem.due[i] * k) if problem.has_windows else horizon,
                prize=prizes[i] if prizes else 0,
                required=prizes is None,
            )
        )
    for i in range(n):
        for j in range(n):
            if i != j:
                d = int(round(problem.distance(i, j) * k))
                m.add_edge(locations[i], locations[j], distance=d, duration=d)
    result = m.solve(stop=MaxRuntime(max(0.05, seconds - (time.perf_counter() - started))), seed=seed, display=False)
    routes = [
        [int(a.idx) + 1 for a in route if _is_client(a)] for route in result.best.routes()
    ]  # clients follow the depot
    # PyVRP numbers clients after the depots: client i (1-based in the problem) is location i.
    visited = {v for r in routes for v in r}
    return Plan(routes=routes, cost=0.0, vehicles=len(routes), seconds=time.perf_counter() - started,
                skipped=[i for i in range(1, n) if i not in visited])  # fmt: skip


def _is_client(activity) -> bool:
    flag = activity.is_client
    return bool(flag() if callable(flag) else flag)


def _plain_tsp(problem: Problem, fleet: int | None, prizes) -> bool:
    if problem.has_windows or prizes is not None or (fleet or 1) != 1 or problem.size < 4:
        return False
    if problem.demand and sum(problem.demand) > problem.capacity:
        return False
    if problem.convention != "tsp" and fleet is None:
        return False
    n = problem.size
    return problem.matrix is None or all(
        problem.matrix[i][j] == problem.matrix[j][i] for i in range(n) for j in range(i)
    )


def _solve_tsp(problem: Problem, seconds: float) -> Plan:
    import fast_tsp

    started = time.perf_counter()
    k = SCALE.get(problem.convention, 1000) if problem.matrix is None else 1000
    n = problem.size
    exact = [[problem.distance(i, j) for j in range(n)] for i in range(n)]
    longest = max(max(row) for row in exact) * k
    # fast-tsp takes 16-bit distances only. Larger ones (metres across a 100 km district) are scaled down to fit; the
    # rounding can hide small differences, so the tour is then polished by 2-opt on the exact distances.
    squeeze = FAST_TSP_MAX / longest if longest > FAST_TSP_MAX else 1.0
    dists = [[int(round(d * k * squeeze)) for d in row] for row in exact]
    budget = seconds - (time.perf_counter() - started)
    tour = fast_tsp.find_tour(dists, max(0.05, budget * (0.8 if squeeze < 1 else 1.0)))
    start = tour.index(0)
    route = [int(v) for v in tour[start + 1 :] + tour[:start]]
    if squeeze < 1:
        route = two_opt(route, exact, deadline=started + seconds)
    return Plan(routes=[route], cost=0.0, vehicles=1, seconds=time.perf_counter() - started, skipped=[])


FAST_TSP_MAX = 65_535


def two_opt(route: list[int], dist: list[list[float]], *, deadline: float) -> list[int]:
    """First-improvement 2-opt on a closed tour from depot 0 (the depot is not in `route`), until no move improves
    or the deadline passes."""
    tour = [0, *route, 0]
    improved = True
    while improved and time.perf_counter() < deadline:
        improved = False
        for i in range(1, len(tour) - 2):
            a, b = tour[i - 1], tour[i]
            for j in range(i + 1, len(tour) - 1):
                c, d = tour[j], tour[j + 1]
                if dist[a][c] + dist[b][d] < dist[a][b] + dist[c][d] - 1e-9:
                    tour[i : j + 1] = reversed(tour[i : j + 1])
                    b = tour[i]
                    improved = True
    return tour[1:-1]
