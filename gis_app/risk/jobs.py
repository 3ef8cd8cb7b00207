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


@daily("risk.daily_heat_cells", "隐患热力格计数整理")
def run_daily_heat_cells(job, progress) -> dict:
    from .heat_cells import compact

    rows = compact()
    progress(1, 1, f"计数整理为 {rows} 行", force=True)
    return {"rows": rows}
