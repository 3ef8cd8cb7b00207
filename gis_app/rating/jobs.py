"""Background work of the ratings: the stored 年度考核 figures of a province."""

from datetime import date

from gis_app.jobs.registry import daily, handler
from gis_app.lib import clock

from .annual import ANNUAL, year_window


@handler("rating.build_annual")
def build_annual(job, progress) -> dict:
    """Stores a year's 年度考核 figures for every home (asked for by the page at a province's scale)."""
    start, end = date.fromisoformat(job.params["start"]), date.fromisoformat(job.params["end"])
    homes = ANNUAL.build(start, end, progress)
    return {"summary": f"已统计 {homes} 家机构 {start.year} 年度考核", "homes": homes}


@daily("rating.daily_annual", "每日年度考核统计")
def daily_annual(job, progress) -> dict:
    """The current year up to today (its overdue hazards and due checks change with the day); earlier days of the
    year, and windows nobody asked for in a week, forgotten."""
    start, end = year_window(clock.today().year)
    homes = ANNUAL.build(start, end, progress)
    forgotten = ANNUAL.forget_older(7, keep=(start, end))
    return {"summary": f"已统计 {homes} 家机构 {start.year} 年度考核", "homes": homes, "forgotten_rows": forgotten}
