"""Daily housekeeping of the inspection forms: photos kept for a refused checklist that was never posted again."""

import time

from django.core.files.storage import default_storage

from gis_app.jobs.registry import daily

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
