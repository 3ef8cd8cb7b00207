"""A routing problem independent of any solver, the two benchmark file formats, and their distance conventions.

TSPLIB EUC_2D: nint(euclid). LKH VRPTW `trunc1`: euclid truncated to one decimal (distance only); `exact`: euclid in
double precision, fewest vehicles first. Times equal distances in the Solomon instances.
"""

import math
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Problem:
    name: str
    coords: list[tuple[float, float]]  # index 0 is the depot
    demand: list[int] = field(default_factory=list)
    ready: list[float] = field(default_factory=list)
    due: list[float] = field(default_factory=list)
    service: list[float] = field(default_factory=list)
    capacity: int = 10**9
    vehicles: int = 1
    convention: str = "tsp"  # tsp | trunc1 | exact
    matrix: list[list[float]] | None = None  # overrides coordinates (e.g. a road network)

    @property
    def size(self) -> int:
        return len(self.coords)

    @property
    def has_windows(self) -> bool:
        return bool(self.due)

    def distance(self, i: int, j: int) -> float:
        if self.matrix is not None:
            return self.matrix[i][j]
        (x1, y1), (x2, y2) = self.coords[i], self.coords[j]
        d = math.hypot(x1 - x2, y1 - y2)
        if self.convention == "tsp":
            return float(int(d + 0.5))
        if self.convention == "trunc1":
            return math.floor(d * 10) / 10
        return d


def _sections(text: str) -> tuple[dict[str, str], dict[str, list[list[str]]]]:
    header: dict[str, str] = {}
    sections: dict[str, list[list[str]]] = {}
    current = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line == "EOF":
            continue
        if line.endswith("SECTION"):
            current = line
            sections[current] = []
        elif current is None and ":" in line:
            key, _, value = line.partition(":")
            header[key.strip().upper()] = value.strip()
        elif current is not None:
            sections[current].append(line.split())
    return header, sections


def load(path: Path | str) -> Problem:
    path = Path(path)
    header, sections = _sections(path.read_text())
    coords = [(float(r[1]), float(r[2])) for r in sections.get("NODE_COORD_SECTION", [])]
    if not coords:
        raise ValueError(f"{path.name}: no NODE_COORD_SECTION")
    name = header.get("NAME", path.stem)
    if path.suffix == ".tsp":
        if header.get("EDGE_WEIGHT_TYPE", "EUC_2D") != "EUC_2D":
            raise ValueError(f"{path.name}: only EUC_2D is supported")
        return Problem(name=name, coords=coords, convention="tsp")
    convention = "trunc1" if ".trunc1." in path.name else "exact"
    demand = [int(r[1]) for r in sections.get("DEMAND_SECTION", [])]
    windows = sections.get("TIME_WINDOW_SECTION", [])
    service = float(header.get("SERVICE_TIME", 0))
    depot = int(sections.get("DEPOT_SECTION", [["1"]])[0][0]) if sections.get("DEPOT_SECTION") else 1
    if depot != 1:
        raise ValueError(f"{path.name}: the depot must be node 1")
    return Problem(
        name=name, coords=coords, demand=demand, ready=[float(r[1]) for r in windows], due=[float(r[2]) for r in windows],
        service=[0.0] + [service] * (len(coords) - 1), capacity=int(header.get("CAPACITY", 10**9)),
        vehicles=int(header.get("VEHICLES", len(coords))), convention=convention,
    )  # fmt: skip
