"""The API is what /api/schema/ says it is (#15). Schemathesis reads the OpenAPI document from the platform served by
the web server (granian) and, for every operation, as every role with a token (and without one), sends generated requests: a bounded,
deterministic number per operation, once with generated path ids and once with ids of real objects in the caller's
scope. Every answer must be: no 5xx, a documented status code and media type, documented headers, and a body that
matches the documented schema. Failures are collected over all operations and roles, then reported together."""

import os
import random
from collections import Counter
from datetime import date, timedelta

import pytest
import requests
import schemathesis
from django.contrib.gis.geos import Point
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from gis_app.carehomes.tokens import issue
from gis_app.hazards import services as hazards
from layers.catalogue import CATALOGUE
from layers.demo import add_site_plan

pytestmark = pytest.mark.django_db(transaction=True)

# Examples per operation, role and id mode; the README's reliability figures are for the default.
EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "12"))
ROLES = ("bureau", "fire_rescue", "subdistrict", "care_home", "third_party", "no_role")
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


def _objects(world) -> dict:
    """Real objects of home A (in every role's scope but the other home's) to aim generated requests at."""
    bureau = world["users"]["bureau"]
    home = world["home_a"]
    home.beds = 120  # a control room too
    home.save(update_fields=["beds"])
    for h in (home, world["home_b"]):
        add_site_plan(h, bureau, random.Random(h.pk))
    hazard = hazards.report_hazard(
        care_home=home,
        description="防火门闭门器损坏",
        by=bureau,
        location=Point(home.location.x + 0.0001, home.location.y, srid=4326),
        found_on=date.today() - timedelta(days=3),
    )
    features = {
        layer.key: layer.get_model().objects.filter(care_home=home).order_by("pk").first() for layer in CATALOGUE
    }
    ids = {"/api/carehomes/": home.pk, "/api/hazards/": hazard.pk, "/api/subdistricts/": world["tanggu"].pk}
    return {
        "ids": {**ids, "/carehomes/": home.pk},
        "features": {key: str(getattr(f, "uuid", f.pk)) for key, f in features.items() if f is not None},
    }


def _pinned(operation, objects: dict, rng: random.Random) -> dict:
    """Path ids of one real object in home A: a layer with one of its features, or the home, hazard or 街镇."""
    names = {p.name for p in operation.path_parameters}
    pinned = {}
    if names & {"layer", "collection"}:
        key = rng.choice(sorted(objects["features"]))
        pinned.update({name: key for name in names & {"layer", "collection"}})
        pinned.update({name: objects["features"][key] for name in names & {"ident", "fid"}})
    if "id" in names:
        pinned["id"] = next(v for prefix, v in objects["ids"].items() if operation.path.startswith(prefix))
    return pinned


def _exercise(operation, session, base: str, pinned: dict | None) -> list[str]:
    failures: list[str] = []
    strategy = operation.as_strategy(path_parameters=pinned) if pinned else operation.as_strategy()

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def run(case):
        case.call_and_validate(base_url=base, session=session, checks=CHECKS, timeout=60)

    try:
        run()
    except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 - what Hypothesis found: collected for one report
        lines = [line for line in str(exc).splitlines() if line.strip()]
        failures.append(f"{operation.label}: " + " | ".join(lines[:14]))
    return failures


def test_every_operation_answers_as_its_schema_says_for_every_role(live_server, world):
    objects = _objects(world)
    answered: Counter = Counter()

    def tally(response, *args, **kwargs):
        answered[response.status_code] += 1

    sessions = {}
    for role in ("anonymous", *ROLES):
        session = requests.Session()
        session.hooks["response"].append(tally)
        if role != "anonymous":
            _, key = issue(world["users"][role], name="schemathesis")
            session.headers["Authorization"] = f"Token {key}"
        sessions[role] = session
    schema = schemathesis.openapi.from_url(f"{live_server.url}/api/schema/?format=json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 25, " ; ".join(sorted(o.label for o in operations))
    rng = random.Random(15)
    failures: list[str] = []
    for operation in operations:
        for role, session in sessions.items():
            modes = [None] if role == "anonymous" else [None, _pinned(operation, objects, rng)]
            for pinned in modes:
                if pinned == {}:
                    continue  # no path ids: the generated run already covered it
                failures += [f"[{role}] {f}" for f in _exercise(operation, session, live_server.url, pinned)]
    total = sum(answered.values())
    print(f"\nschemathesis: {len(operations)} operations, {len(sessions)} roles, {total} requests: {dict(answered)}")
    # the generated requests reach real objects too, not only refusals
    assert answered[200] > 0 and answered[201] + answered[204] > 0 and answered[404] > 0
    assert not failures, f"{len(failures)} answers differ from the schema:\n" + "\n\n".join(failures[:40])
