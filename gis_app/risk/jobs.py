from gis_app.jobs.registry import daily, handler

from .scoring import recompute_all


@handler("risk.recompute")
def run_recompute(job, progress) -> dict:
    progress(0, 1, "正在计算风险评分", force=True)
    counts = recompute_all()
    progress(1, 1, f"已计算 {counts['homes']} 家机构、{counts['subdistricts']} 个街镇汇总", force=True)
    return counts


@daily("risk.daily_recompute", "每日风险评分")
def run_daily(job, progress) -> dict:
    return run_recompute(job, progress)
