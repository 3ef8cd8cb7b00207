"""Loads the checklist catalogue and the major-hazard criteria from fixtures/ (idempotent upsert by code)."""

import json
from datetime import date
from pathlib import Path

from django.conf import settings
from django.db import transaction

from .models import CheckItem, ChecklistVersion, Criterion, CriterionSet, KeyPlace

DEFAULT = Path(settings.BASE_DIR) / "fixtures" / "checklist_catalogue.json"


@transaction.atomic
def load_catalogue(path: Path = DEFAULT) -> dict[str, int]:
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    changed = {"key_places": 0, "criteria": 0, "items": 0}
    places = {}
    for kp in data["key_places"]:
        obj, created = KeyPlace.objects.update_or_create(
            code=kp["code"], defaults={"name": kp["name"], "order": kp["order"]}
        )
        places[kp["code"]] = obj
        changed["key_places"] += created
    criteria = {}
    for cs in data["criteria_sets"]:
        cset, _ = CriterionSet.objects.update_or_create(
            code=cs["code"],
            defaults={
                "title": cs["title"], "note": cs.get("note", ""),
                "effective_from": date.fromisoformat(cs["effective_from"]),
                "effective_to": date.fromisoformat(cs["effective_to"]) if cs.get("effective_to") else None,
            },
        )  # fmt: skip
        for c in cs["criteria"]:
            obj, created = Criterion.objects.update_or_create(
                code=c["code"], defaults={"criterion_set": cset, "category": c["category"], "text": c["text"]}
            )
            criteria[c["code"]] = obj
            changed["criteria"] += created
    for cl in data["checklists"]:
        version, _ = ChecklistVersion.objects.update_or_create(
            code=cl["code"], defaults={"title": cl["title"], "effective_on": date.fromisoformat(cl["effective_on"])}
        )
        for it in cl["items"]:
            _, created = CheckItem.objects.update_or_create(
                version=version, code=it["code"],
                defaults={
                    "key_place": places[it["key_place"]], "text": it["text"], "legal_basis": it["legal_basis"],
                    "frequency": it["frequency"], "responsible_post": it["responsible_post"], "order": it["order"],
                    "major_criterion": criteria[it["major_criterion"]] if it["major_criterion"] else None,
                },
            )  # fmt: skip
            changed["items"] += created
    return changed
