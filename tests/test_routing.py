"""The route solver and the independent checker on small instances with known optima and on hand-made bad plans."""

import json
from pathlib import Path

import pytest
from django.core.management import call_command

from gis_app.routing.checker import check
from gis_app.routing.problem import Problem, load
from gis_app.routing.references import tsp_optimum, vrptw_reference
from gis_app.routing.solver import solve

DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "bench-data" / "routing"
needs_data = pytest.mark.skipif(not DATA.exists(), reason="shared bench data not beside the checkout")


def square() -> Problem:
    return Problem(name="square", coords=[(0, 0), (0, 10), (10, 10), (10, 0), (5, 5)], convention="tsp")


def test_a_tiny_tsp_is_solved_to_its_optimum():
    plan = solve(square(), seconds=0.3)
    c = check(square(), plan.routes)
    assert c.feasible and c.cost == 10 + 10 + 7 + 7 + 10  # around the square through the centre: 44


def test_the_checker_catches_every_kind_of_violation():
    p = Problem(name="w", coords=[(0, 0), (0, 10), (0, 20)], demand=[0, 5, 5], capacity=8, ready=[0, 0, 0], due=[100, 5, 100],
                service=[0, 1, 1], convention="exact", vehicles=2)  # fmt: skip
    assert "visited twice" in check(p, [[1, 2], [2]]).violations[0]
    assert "never visited" in check(p, [[1]]).violations[0]
    bad = check(p, [[1, 2]])
    assert any("load 10 > capacity 8" in v for v in bad.violations)
    assert any("arrives at stop 1 at 10.0 > 5.0" in v for v in bad.violations)
    assert "2 routes for 1 vehicles" in check(p, [[2], [1]], fleet=1).violations
    p.due[0] = 30
    late = check(p, [[2], [1]])
    assert any("shift end" in v for v in late.violations)


def test_waiting_for_an_opening_window_is_allowed():
    p = Problem(name="wait", coords=[(0, 0), (0, 1)], demand=[0, 1], capacity=5, ready=[0, 50], due=[100, 60], service=[0, 0],
                convention="exact")  # fmt: skip
    c = check(p, [[1]])
    assert c.feasible and c.cost == 2


@needs_data
def test_the_distance_conventions_reproduce_the_published_optima():
    assert tsp_optimum(DATA / "tsplib" / "eil51.tsp") == 426
    assert vrptw_reference(DATA / "solomon" / "C101.100.10.trunc1.vrptw") == (10, 827.3)


@needs_data
def test_solomon_c101_is_solved_to_its_optimum_and_checked(capsys):
    call_command("route_bench", str(DATA / "solomon" / "C101.100.10.trunc1.vrptw"), "--seconds", "3")
    out = json.loads(capsys.readouterr().out)
    assert out["feasible"] and out["violations"] == []
    assert out["cost"] <= 827.3 * 1.005 and out["vehicles"] == 10
    assert sorted(s for r in out["routes"] for s in r) == list(range(1, 101))


@needs_data
def test_tsp_kroa100_reaches_its_optimum():
    p = load(DATA / "tsplib" / "kroA100.tsp")
    c = check(p, solve(p, seconds=3).routes)
    assert c.feasible and c.cost == 21282
