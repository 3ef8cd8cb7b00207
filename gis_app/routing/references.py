"""Reference values shipped beside the instances: TSPLIB optimal tours (their cost under our own distance function is the
optimum) and LKH tour files whose names carry vehicles and cost."""

import json
import re
from pathlib import Path

from .problem import load


def read_tour(path: Path) -> list[int]:
    nodes, inside = [], False
    for line in path.read_text().splitlines():
        line = line.strip()
        if line == "TOUR_SECTION":
            inside = True
            continue
        if inside:
            for token in line.split():
                value = int(token)
                if value == -1:
                    return nodes
                nodes.append(value)
    return nodes


def tsp_optimum(tsp: Path) -> float:
    """The cost of the optimal tour beside the instance under our own distance function, or the published optimum
    (optima.json in the same folder) for instances shipped without their tour."""
    tour_file = tsp.with_suffix(".opt.tour")
    if not tour_file.exists():
        return float(json.loads((tsp.parent / "optima.json").read_text())[tsp.stem])
    problem = load(tsp)
    tour = [n - 1 for n in read_tour(tour_file)]
    return sum(problem.distance(a, b) for a, b in zip(tour, tour[1:] + tour[:1], strict=True))


def vrptw_reference(vrptw: Path) -> tuple[int, float]:
    """(vehicles, cost) from the tour file next to the instance, e.g. R101.100.19.1650798.exact.tour."""
    stem = vrptw.name.split(".")[0]
    convention = "trunc1" if ".trunc1." in vrptw.name else "exact"
    for tour in vrptw.parent.glob(f"{stem}.100.*.{convention}.tour"):
        m = re.match(rf"{stem}\.100\.(\d+)\.(\d+)\.{convention}\.tour", tour.name)
        if m:
            vehicles, raw = int(m.group(1)), m.group(2)
            return vehicles, int(raw) / (10 if convention == "trunc1" else 1000)
    raise FileNotFoundError(f"no reference tour for {vrptw.name}")
