"""Keeping scores current: the ledger and inspections call request_recompute() after a change; changes within the
same minute share one background job (its unique key), so a burst of edits costs one recomputation."""

from django.db import transaction

from gis_app.jobs.services import enqueue_once
from gis_app.lib import clock


def request_recompute() -> None:
    key = f"risk.recompute:{clock.now():%Y-%m-%dT%H:%M}"
    transaction.on_commit(lambda: enqueue_once(kind="risk.recompute", title="更新风险评分", key=key))
