"""Sync fuzz (#13): seeded random interleavings of web edits and deletes, field edits and deletes on the tablet's
GeoPackage (through GDAL, as QField writes it), imports (what a pull or a cable return runs) and regenerations (what a
push sends), on three features of one home. After every import:

- no field edit is lost: it is in PostGIS, or it is an open conflict for a person;
- none lands on another feature, and nothing the field did not touch changes (no feature re-created or deleted);
- every divergence is raised at most once (one open conflict per feature and kind);
- a second import changes nothing.

SYNC_FUZZ_CASES sets the number of seeded cases (the suite runs a few; each generation runs real QGIS, ~2 s)."""

import os
import random
import subprocess
from pathlib import Path

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.contrib.gis.geos import Point

from field_forms.importer import import_folder
from field_forms.models import Conflict, FieldProject
from field_forms.package import generate
from field_forms.spec import resolve_scope
from layers.catalogue import get_layer
from layers.services import delete_feature, save_feature

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(not Path("/usr/bin/python3").exists(), reason="needs Debian's python3 with QGIS"),
]
CASES = int(os.environ.get("SYNC_FUZZ_CASES", "4"))
# Seeds the 1,000-case benchmark found failing, kept in every run. 535: a feature with an open both_changed conflict,
# set back on the web to the value last exchanged, was overwritten by the next import of the unchanged tablet copy.
REGRESSIONS = [535]
STEPS = 14
STATUSES = ["open", "locked", "blocked"]
OPERATIONS = ["web_edit", "web_delete", "field_edit", "field_delete", "import", "regenerate"]
WEIGHTS = [5, 1, 6, 1, 4, 2]
SafetyExit = apps.get_model("layers", "SafetyExit")


def _sql(folder: Path, sql: str) -> None:
    subprocess.run(["ogrinfo", "-q", str(folder / "inspection.gpkg"), "-sql", sql], check=True, capture_output=True)


def _state(home) -> dict:
    exits = {str(e.uuid): e.status for e in SafetyExit.objects.filter(care_home=home)}
    project = FieldProject.objects.filter(scope=f"carehome:{home.pk}").first()
    conflicts = Conflict.objects.filter(project=project, status="open") if project else Conflict.objects.none()
    open_conflicts = sorted((str(c.uuid), c.kind) for c in conflicts)
    return {"exits": exits, "conflicts": open_conflicts}


@pytest.mark.parametrize("seed", sorted({*range(CASES), *REGRESSIONS}))
def test_random_interleavings_never_lose_or_misplace_a_field_edit(seed, make_home, tanggu, tmp_path):
    rng = random.Random(seed)
    bureau = get_user_model().objects.get(username="bureau")
    home = make_home(tanggu)
    layer = get_layer("safety_exit")
    x, y = home.location.x, home.location.y
    for i, kind in enumerate(["door", "stairway", "outdoor_stair"]):
        geometry = Point(x + 0.0002 * (i - 1), y, srid=4326)
        save_feature(layer, by=bureau, home=home, geometry=geometry, attributes={"kind": kind, "status": "open"})
    scope = f"carehome:{home.pk}"
    uuids = sorted(str(u) for u in SafetyExit.objects.filter(care_home=home).values_list("uuid", flat=True))
    fids = dict(SafetyExit.objects.filter(care_home=home).values_list("uuid", "pk"))
    fids = {str(k): v for k, v in fids.items()}

    generation = 0
    tablet = tmp_path / f"g{generation}"
    generate(resolve_scope(scope), tablet)
    web = _state(home)["exits"]  # what PostGIS should hold, by the web's own actions
    on_tablet = dict(web)  # what the tablet's GeoPackage holds
    baseline = dict(web)  # the value last exchanged with the field (the platform's snapshot of it)
    pending: dict[str, str | None] = {}  # field edits not imported yet (None: deleted in the field)
    log = []

    def do_import() -> None:
        nonlocal web
        import_folder(tablet, by=bureau)
        after = _state(home)
        conflicted = {u for u, _ in after["conflicts"]}
        # a field value edited back to what was last exchanged is no change at all
        changed = {u: v for u, v in pending.items() if v is None or v != baseline.get(u)}
        for uid in uuids:
            if uid in changed:
                value = changed[uid]
                if value is None:  # deleted in the field: never deleted on the web by an import
                    assert after["exits"].get(uid) == web.get(uid), (log, uid)
                    if uid in web:
                        assert (uid, "deleted_in_field") in after["conflicts"], (log, uid)
                elif after["exits"].get(uid) == value and uid in web:
                    web[uid] = baseline[uid] = value  # applied
                else:
                    assert uid in conflicted, ("field edit lost", log, uid, value, after)
                    assert after["exits"].get(uid) == web.get(uid), ("web version not kept", log, uid)
            else:
                assert after["exits"].get(uid) == web.get(uid), ("a feature the field did not touch changed", log, uid)
        assert set(after["exits"]) == set(web), ("a feature appeared or vanished", log)
        assert len(after["conflicts"]) == len(set(after["conflicts"])), ("a divergence raised twice", log)
        import_folder(tablet, by=bureau)
        assert _state(home) == after, ("a second import changed something", log)
        pending.clear()

    for _ in range(STEPS):
        op = rng.choices(OPERATIONS, WEIGHTS)[0]
        uid = rng.choice(uuids)
        if op == "web_edit" and uid in web:
            status = rng.choice(STATUSES)
            feature = SafetyExit.objects.get(uuid=uid)
            save_feature(layer, by=bureau, instance=feature, attributes={"status": status})
            web[uid] = status
        elif op == "web_delete" and uid in web and len(web) > 1:
            delete_feature(layer, SafetyExit.objects.get(uuid=uid), by=bureau)
            del web[uid]
        elif op == "field_edit" and uid in on_tablet:
            status = rng.choice(STATUSES)
            _sql(tablet, f"UPDATE safety_exit SET status = '{status}' WHERE fid = {fids[uid]}")
            on_tablet[uid] = pending[uid] = status
        elif op == "field_delete" and uid in on_tablet:
            _sql(tablet, f"DELETE FROM safety_exit WHERE fid = {fids[uid]}")
            del on_tablet[uid]
            pending[uid] = None
        elif op == "import":
            do_import()
        elif op == "regenerate":
            if pending:
                do_import()  # a push is refused over unpulled field work: the platform pulls first
            generation += 1
            tablet = tmp_path / f"g{generation}"
            generate(resolve_scope(scope), tablet)
            on_tablet = _state(home)["exits"]
            baseline = dict(on_tablet)
        else:
            continue
        log.append((op, uid[:8]))
    do_import()
