"""Background jobs of the registry."""

from django.urls import reverse

from gis_app.jobs.registry import handler
from gis_app.jobs.services import JobError

from .importers.carehomes import ImportFileError, import_carehomes


@handler("carehomes.import")
def run_carehome_import(job, progress) -> dict:
    params = job.params
    try:
        report = import_carehomes(
            bytes(job.payload),
            job.payload_name,
            crs=params.get("crs", "wgs84"),
            commit=params.get("commit", True),
            skip_bad=params.get("skip_bad", False),
            sheet=params.get("sheet"),
            encoding=params.get("encoding"),
            progress=lambda done, total: progress(done, total, f"已处理 {done}/{total}"),
        )
    except ImportFileError as exc:
        raise JobError(str(exc)) from None
    progress(1, 1, "完成", force=True)
    return report.as_dict()


@handler("carehomes.geocode")
def run_geocode(job, progress) -> dict:
    """Geocodes the unlocated homes the job's author may see (待定位 → 地理编码定位，待确认)."""
    from . import geocoder, locating
    from .scope import visible_carehomes

    try:
        report = locating.geocode_unlocated(visible_carehomes(job.created_by), progress=progress)
    except geocoder.GeocoderError as exc:
        raise JobError(str(exc)) from None
    progress(1, 1, "完成", force=True)
    return {**report.as_dict(), "link": reverse("carehome-unlocated"), "link_label": "查看待定位列表，确认或调整位置"}
