import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from gis_app.routing.checker import check
from gis_app.routing.problem import load
from gis_app.routing.solver import solve


class Command(BaseCommand):
    help = "Solves a TSPLIB .tsp or LKH .vrptw file and prints JSON: routes, cost under the file's convention, vehicles, time."

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument("--seconds", type=float, default=5.0)
        parser.add_argument("--seed", type=int, default=1)

    def handle(self, *args, file: Path, seconds: float, seed: int, **opts):
        if not file.exists():
            raise CommandError(f"no such file: {file}")
        try:
            problem = load(file)
        except (ValueError, IndexError) as exc:
            raise CommandError(f"cannot read {file.name}: {exc}") from None
        plan = solve(problem, seconds=seconds, seed=seed, minimise_vehicles=problem.convention == "exact")
        result = check(problem, plan.routes)
        self.stdout.write(json.dumps({
            "instance": problem.name, "convention": problem.convention, "routes": plan.routes, "cost": round(result.cost, 3),
            "vehicles": plan.vehicles, "seconds": round(plan.seconds, 3), "feasible": result.feasible,
            "violations": result.violations,
        }))  # fmt: skip
