"""Idempotent submissions. A client's key (the API's `Idempotency-Key` header, or the one-time token a web form carries)
becomes the submitted record's uuid, scoped to the user: uuid5(user, key). A repeat of the same submission — a double
click, a retry after a timeout, two parallel requests — then names the same row, and the unique uuid lets exactly one
of them create it; the others get the first one's result."""

import uuid

NAMESPACE = uuid.UUID("5b1f0c8e-3f8a-4c0e-9a55-1f0d2c7b9e41")
MAX_KEY = 200


def submission_uuid(user, key: str | None) -> str | None:
    key = (key or "").strip()
    if not key:
        return None
    if len(key) > MAX_KEY:
        raise ValueError(f"Idempotency-Key is longer than {MAX_KEY} characters")
    return str(uuid.uuid5(NAMESPACE, f"{user.pk}:{key}"))


def new_form_token() -> str:
    return uuid.uuid4().hex
