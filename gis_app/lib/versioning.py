"""Optimistic concurrency for rows without an updated_at: a version is a digest of the fields a form edits, read with
the form and compared, under the row lock, when it comes back. A stale save is refused, never applied over a newer one."""

import hashlib
import json


def row_version(obj, fields: list[str]) -> str:
    values = {name: getattr(obj, f"{name}_id" if hasattr(obj, f"{name}_id") else name) for name in fields}
    return hashlib.sha256(json.dumps(values, sort_keys=True, default=str).encode()).hexdigest()[:16]
