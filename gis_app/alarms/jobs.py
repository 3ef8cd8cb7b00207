from gis_app.jobs.registry import every_minutes

from .sweep import sweep


@every_minutes("alarms.sweep", "告警转隐患检查", 5)
def run_sweep(job, progress) -> dict:
    made = sweep()
    progress(1, 1, f"故障转隐患 {made['faults']} 条，误报转隐患 {made['false_alarms']} 条", force=True)
    return made
