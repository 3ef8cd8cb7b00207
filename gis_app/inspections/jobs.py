"""Background work of the inspections: photos kept for a refused checklist that was never posted again, and the
stored schedule figures of 漏检统计."""

import time
from datetime import date

from django.core.files.storage import default_storage

from gis_app.jobs.registry import daily, handler

from .schedule import SCHEDULE, default_window

KEPT_FOR_SECONDS = 2 * 24 * 3600


@daily("inspections.forget_abandoned_photos", "清理未提交检查表的临时照片")
def forget_abandoned_photos(job, progress) -> dict:
    removed = 0
    cutoff = time.time() - KEPT_FOR_SECONDS
    if not default_storage.exists("tmp/inspection"):
        return {"summary": "没有临时照片", "removed": 0}
    users, _ = default_storage.listdir("tmp/inspection")
    for user in users:
        forms, _ = default_storage.listdir(f"tmp/inspection/{user}")
        for form in forms:
            folder = f"tmp/inspection/{user}/{form}"
            _, files = default_storage.listdir(folder)
            for name in files:
                path = f"{folder}/{name}"
                if default_storage.get_modified_time(path).timestamp() < cutoff:
                    default_storage.delete(path)
                    removed += 1
    return {"summary": f"清理了 {removed} 张超过两天未提交的临时照片", "removed": removed}


@handler("inspections.build_schedule")
def build_schedule(job, progress) -> dict:
    """Stores a window's schedule figures for every home (asked for by 漏检统计 at a province's scale)."""
    start, end = date.fromisoformat(job.params["start"]), date.fromisoformat(job.params["end"])
    homes = SCHEDULE.build(start, end, progress)
    return {"summary": f"已统计 {homes} 家机构 {start:%Y-%m-%d} 至 {end:%Y-%m-%d} 的自查完成情况", "homes": homes}


@daily("inspections.daily_schedule", "每日漏检统计")
def daily_schedule(job, progress) -> dict:
    """Today's default window of 漏检统计 (the last 30 days), and windows nobody asked for in a week forgotten."""
    start, end = default_window()
    homes = SCHEDULE.build(start, end, progress)
    forgotten = SCHEDULE.forget_older(7, keep=(start, end))
    return {"summary": f"已统计 {homes} 家机构近 30 天的自查完成情况", "homes": homes, "forgotten_rows": forgotten}
