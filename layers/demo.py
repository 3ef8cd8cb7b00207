"""A plausible site plan for every demo home (building, fire lane, exits, route, e-bike area, micro fire station,
extinguishers, control room), written through the same validating service as the API. Idempotent."""

import math
import random

from django.contrib.auth import get_user_model
from django.contrib.gis.geos import LineString, Point, Polygon

from gis_app.carehomes.models import CareHome

from .catalogue import get_layer
from .services import save_feature


def _offset(home, dx: float, dy: float) -> tuple[float, float]:
    """(dx, dy) metres east/north of the home's location, in degrees."""
    lat = home.location.y
    return home.location.x + dx / (111_320 * math.cos(math.radians(lat))), lat + dy / 110_540


def _rect(home, cx, cy, w, h) -> Polygon:
    pts = [_offset(home, cx + sx * w / 2, cy + sy * h / 2) for sx, sy in ((-1, -1), (1, -1), (1, 1), (-1, 1), (-1, -1))]
    return Polygon(pts, srid=4326)


def load_demo_layers(stdout=None) -> int:
    homes = list(CareHome.objects.filter(is_demo=True).order_by("credit_code"))
    model = get_layer("building").get_model()
    if not homes or model.objects.filter(care_home__in=homes).exists():
        return 0
    bureau = get_user_model().objects.get(username="bureau")
    rng = random.Random(3)
    count = sum(add_site_plan(home, bureau, rng) for home in homes)
    if stdout is not None:
        stdout.write(f"演示平面图要素 {count} 个")
    return count


def add_site_plan(home, by, rng: random.Random) -> int:
    """One plausible feature set of every layer around the home (a control room for 100 beds or more)."""
    count = 0

    def add(key, geometry, **attributes):
        nonlocal count
        save_feature(get_layer(key), by=by, home=home, geometry=geometry,
                     attributes={"surveyed_by": "演示数据", **attributes})  # fmt: skip
        count += 1

    floors = rng.choice([2, 3, 4, 5])
    add("building", _rect(home, 0, 0, 48, 18), name="1号楼（老人居住）", floors=floors, elderly_floors=f"1-{floors}")
    add(
        "fire_lane",
        LineString([_offset(home, -40, -20), _offset(home, 40, -20)], srid=4326),
        width_m=rng.choice([3.5, 4, 4.5, 6]),
        status=rng.choices(["clear", "parked", "narrowed"], [8, 1, 1])[0],
        turnaround=rng.random() < 0.5,
    )
    for dx in (-24, 24):
        add(
            "safety_exit",
            Point(*_offset(home, dx, -9), srid=4326),
            kind="door",
            clear_width_m=rng.choice([0.9, 1.2, 1.4]),
            status=rng.choices(["open", "locked", "blocked"], [12, 1, 1])[0],
            exit_sign_ok=rng.random() < 0.9,
            emergency_light_ok=rng.random() < 0.9,
        )
    add(
        "evacuation_route",
        LineString([_offset(home, 24, -9), _offset(home, 30, -30), _offset(home, 45, -32)], srid=4326),
        status=rng.choices(["clear", "obstructed"], [9, 1])[0],
    )
    add(
        "ebike_area",
        _rect(home, 45, 20, 10, 6),
        capacity=rng.choice([10, 20, 30]),
        charging_points=rng.choice([6, 10, 12]),
        timed_cutoff=rng.random() < 0.8,
        roofed=True,
        extinguisher_present=rng.random() < 0.85,
        compliant=rng.random() < 0.8,
    )
    add(
        "micro_fire_station",
        Point(*_offset(home, -30, 12), srid=4326),
        level=rng.choice(["1", "2", "3"]),
        staff_count=rng.choice([3, 5, 6]),
        equipment_complete=rng.random() < 0.85,
    )
    for dx in (-15, 0, 15):
        add(
            "fire_equipment",
            Point(*_offset(home, dx, 9.5), srid=4326),
            kind="extinguisher",
            status=rng.choices(["ok", "expired", "missing"], [10, 1, 1])[0],
        )
    if home.beds >= 100:
        add(
            "fire_control_room",
            Point(*_offset(home, -20, 0), srid=4326),
            staffed_24h=rng.random() < 0.9,
            certified_operators=rng.choice([1, 2, 4]),
        )
    return count
