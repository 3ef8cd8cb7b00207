"""Background jobs of the registry."""

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
