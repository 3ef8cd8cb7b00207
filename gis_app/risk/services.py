"""Keeping scores current: the ledger and inspections call request_recompute() after a change; changes within the
same minute share one background job (its unique key), so a burst of edits costs one recomputation."""

from django.db import IntegrityError, transaction

from gis_app.jobs.models import Job
from gis_app.lib import clock


def request_recompute() -> None:
    key = f"risk.recompute:{clock.now():%Y-%m-%dT%H:%M}"

    def enqueue():
        try:
            with transaction.atomic():
                Job.objects.get_or_create(
                    unique_key=key, defaults={"kind": "risk.recompute", "title": "更新风险评分", "max_attempts": 3}
                )
        except IntegrityError:
            pass

    transaction.on_commit(enqueue)
