"""The route solver on the public benchmarks with known optima (bench/data/routing/, in the repository): gap and time per instance
next to the reference, every plan checked by the independent checker. No database needed."""

import os
from pathlib import Path

from gis_app.routing.checker import check
from gis_app.routing.problem import load
from gis_app.routing.references import tsp_optimum, vrptw_reference
from gis_app.routing.solver import solve

DATA = Path(os.environ.get("ROUTING_BENCH_DATA", Path(__file__).resolve().parent / "data" / "routing"))


def run() -> list[list]:
    rows = []
    for name, seconds in [
        ("eil51", 1),
        ("berlin52", 1),
        ("st70", 1),
        ("eil76", 1),
        ("kroA100", 1),
        ("pr76", 1),  # the large-coordinate instances: distances beyond fast-tsp's 16 bits
        ("ch150", 5),
        ("pr152", 5),
        ("d198", 5),
        ("pr226", 5),
        ("a280", 5),
        ("lin318", 5),
    ]:
        path = DATA / "tsplib" / f"{name}.tsp"
        problem, best = load(path), tsp_optimum(path)
        plan = solve(problem, seconds=seconds)
        c = check(problem, plan.routes)
        goal = "= optimum in 1 s" if seconds == 1 else "≤ 0.5 % in 5 s"
        rows.append([f"TSP {name}", f"{seconds} s", f"{c.cost:g}", f"{best:g}", f"{100 * (c.cost - best) / best:+.2f} %",
                     "ok" if c.feasible else f"VIOLATIONS {len(c.violations)}", goal])  # fmt: skip
    gaps = []
    for path in sorted((DATA / "solomon").glob("*.trunc1.vrptw")):
        problem = load(path)
        vehicles, best = vrptw_reference(path)
        plan = solve(problem, seconds=5)
        c = check(problem, plan.routes)
        gap = 100 * (c.cost - best) / best
        gaps.append(gap)
        rows.append([f"VRPTW {problem.name} distance", "5 s", f"{c.cost:.1f} ({plan.vehicles} veh.)", f"{best:.1f}",
                     f"{gap:+.2f} %", "ok" if c.feasible else f"VIOLATIONS {len(c.violations)}", "≤ 1 % each, mean ≤ 0.5 %"])  # fmt: skip
    rows.append(["VRPTW distance, mean gap", "", "", "", f"{sum(gaps) / len(gaps):+.2f} %", "", "≤ 0.5 %"])
    for path in sorted((DATA / "solomon").glob("*.exact.vrptw")):
        problem = load(path)
        vehicles, best = vrptw_reference(path)
        plan = solve(problem, seconds=30, minimise_vehicles=True)
        c = check(problem, plan.routes)
        rows.append([f"VRPTW {problem.name} hierarchical", "30 s", f"{plan.vehicles} veh. / {c.cost:.2f}", f"{vehicles} veh. / {best:.2f}",
                     f"{plan.vehicles - vehicles:+d} veh., {100 * (c.cost - best) / best:+.2f} %",
                     "ok" if c.feasible else f"VIOLATIONS {len(c.violations)}", "best-known vehicles"])  # fmt: skip
    return rows + planner_rows()


def planner_rows() -> list[list]:
    """The day planner at its largest (150 homes, 3 teams with breaks, a fifth of the homes with a window, two locks):
    how much priority fits, and whether the independent day checker accepts the plan."""
    import random

    from gis_app.routing.planner import StopSpec, TeamSpec, plan_day
    from gis_app.routing.travel import straight_seconds

    rng = random.Random(7)
    offices = [(117.7105, 39.0032), (117.6630, 39.0270), (117.4580, 38.8400)]
    homes = [(rng.uniform(117.35, 117.95), rng.uniform(38.70, 39.30)) for _ in range(150)]
    points = offices + homes
    matrix = [[straight_seconds(a, b, speed_kmh=30, circuity=1.35) for b in points] for a in points]
    h = 3600
    teams = [TeamSpec(f"T{i}", i, i, 8 * h + 1800, 17 * h + 1800, 11 * h + 1800, 13 * h, 3600) for i in range(3)]
    stops = [StopSpec(f"S{i}", 3 + i, rng.randint(1, 100), 1800 + 60 * rng.randint(0, 40),
                      (14 * h, 17 * h) if i % 5 == 0 else None) for i in range(150)]  # fmt: skip
    stops[1].locked_team = "T2"
    stops[2].locked_team, stops[2].locked_position = "T0", 1
    rows = []
    for seconds in (3, 10):
        result = plan_day(matrix, teams, stops, seconds=seconds)
        visited = sum(len(d.visits) for d in result.days)
        rows.append(["planner 150 homes / 3 teams", f"{seconds} s", f"{visited} visited, priority {result.priority_visited}",
                     f"of {sum(s.priority for s in stops)}", f"{result.travel / 3600:.1f} h driving",
                     "ok" if not result.violations else f"VIOLATIONS {len(result.violations)}", f"{result.seconds:.1f} s total"])  # fmt: skip
    return rows
