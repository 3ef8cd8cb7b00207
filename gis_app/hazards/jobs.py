from gis_app.jobs.registry import daily, handler
from gis_app.jobs.services import JobError

from .exports import export_ledger_job
from .reminders import send_reminders


@daily("hazards.daily_reminders", "隐患整改提醒与逾期督办")
def run_daily_reminders(job, progress) -> dict:
    from datetime import date

    counts = send_reminders(date.fromisoformat(job.params["date"]) if job.params.get("date") else None)
    progress(1, 1, f"提醒 {counts['reminded']} 条，督办 {counts['escalated']} 条", force=True)
    return counts


@daily("hazards.daily_ledger_counts", "隐患台账计数整理")
def run_daily_ledger_counts(job, progress) -> dict:
    from .ledger_counts import compact

    rows = compact()
    progress(1, 1, f"计数整理为 {rows} 行", force=True)
    return {"rows": rows}


@handler("hazards.export_ledger")
def run_export_ledger(job, progress) -> dict:
    try:
        return export_ledger_job(job, progress)
    except ValueError as exc:
        raise JobError(str(exc)) from None
