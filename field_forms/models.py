"""QField projects per scope, what was sent to the field (to tell field edits from web edits), conflicts for a person,
the QFieldCloud delta audit trail, and every sync or import with its report."""

from django.conf import settings
from django.db import models


class FieldProject(models.Model):
    scope = models.CharField(
        "范围", max_length=60, unique=True, help_text="carehome:<id> / subdistrict:<代码> / route:<id>"
    )
    title = models.CharField("名称", max_length=200)
    cloud_project_id = models.CharField("QFieldCloud 项目", max_length=64, blank=True)
    packaged_at = models.DateTimeField("生成时间", null=True, blank=True)
    pushed_at = models.DateTimeField("推送时间", null=True, blank=True)
    pulled_at = models.DateTimeField("最近拉取", null=True, blank=True)
    cloud_data_updated_at = models.CharField("云端数据更新时间", max_length=40, blank=True)

    class Packaging(models.TextChoices):
        NONE = "", "—"
        PACKAGING = "packaging", "云端打包中"
        READY = "ready", "可供平板下载"
        FAILED = "failed", "云端打包失败"
        STALLED = "stalled", "云端打包未完成"

    package_job_id = models.CharField("云端打包任务", max_length=64, blank=True)
    package_status = models.CharField("云端打包", max_length=12, choices=Packaging.choices, blank=True, default="")
    package_message = models.CharField("云端打包说明", max_length=300, blank=True)
    package_started_at = models.DateTimeField("打包开始", null=True, blank=True)
    pushed_files = models.JSONField(
        "已推送文件", default=dict, blank=True, help_text="文件名 → 内容摘要与上传的 md5：内容未变的文件不再上传"
    )

    class Meta:
        verbose_name = verbose_name_plural = "外业项目"
        ordering = ["scope"]

    def __str__(self) -> str:
        return self.title

    @property
    def scope_label(self) -> str:
        """养老机构 / 街镇 / 联合检查路线: what kind of scope, in words (the key stays internal)."""
        kind = self.scope.split(":", 1)[0]
        return {"carehome": "养老机构", "subdistrict": "街镇", "route": "联合检查路线"}.get(kind, "其他")


class Snapshot(models.Model):
    """A feature as it was last sent to (or received from) the field: its canonical digest. A field edit is a row
    whose GeoPackage digest differs from this; a web edit is a row whose PostGIS digest differs from it."""

    project = models.ForeignKey(FieldProject, on_delete=models.CASCADE, related_name="snapshots")
    layer = models.CharField(max_length=40)
    uuid = models.UUIDField()
    digest = models.CharField(max_length=64)
    # The GeoPackage fid the field knows the feature by (the platform's pk once generated; a tablet's own number for a
    # feature created in the field until the next generation). A row whose fid disagrees is never matched silently.
    fid = models.BigIntegerField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "layer", "uuid"], name="snapshot_unique")]

    def __str__(self) -> str:
        return f"{self.layer} {self.uuid}"


class ConflictStatus(models.TextChoices):
    OPEN = "open", "待处理"
    KEPT_WEB = "kept_web", "保留平台数据"
    TOOK_FIELD = "took_field", "采用外业数据"
    SETTLED = "settled", "云端已应用"  # a problem delta the server applied later (e.g. after a re-push)


class Conflict(models.Model):
    project = models.ForeignKey(FieldProject, on_delete=models.CASCADE, related_name="conflicts")
    layer = models.CharField("图层", max_length=40)
    uuid = models.UUIDField("要素UUID")
    kind = models.CharField(
        "类型", max_length=20, help_text="both_changed / deleted_in_field / deleted_on_web / fid_mismatch / cloud_delta"
    )
    web = models.JSONField("平台数据", null=True, blank=True)
    field = models.JSONField("外业数据", null=True, blank=True)
    message = models.CharField("说明", max_length=300)
    status = models.CharField("状态", max_length=12, choices=ConflictStatus.choices, default=ConflictStatus.OPEN)
    resolved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")  # fmt: skip
    resolved_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = verbose_name_plural = "外业冲突"
        ordering = ["status", "-created_at"]

    def __str__(self) -> str:
        return self.message


class ImportedFile(models.Model):
    """A DCIM file already stored: importing the same folder twice stores it once."""

    project = models.ForeignKey(FieldProject, on_delete=models.CASCADE, related_name="files")
    path = models.CharField(max_length=300)
    sha256 = models.CharField(max_length=64)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "path", "sha256"], name="imported_file_unique")]

    def __str__(self) -> str:
        return self.path


class CloudDelta(models.Model):
    """QFieldCloud's record of one field edit (GET deltas/<project>/): the audit trail. Deltas the server did not
    apply are also raised as conflicts for a person."""

    project = models.ForeignKey(FieldProject, on_delete=models.CASCADE, related_name="deltas")
    delta_id = models.CharField(max_length=64)
    deltafile_id = models.CharField(max_length=64, blank=True)
    status = models.CharField(max_length=20)
    created_by = models.CharField(max_length=100, blank=True)
    created_at = models.CharField(max_length=40, blank=True)
    output = models.TextField(blank=True)
    content = models.JSONField(default=dict)

    class Meta:
        verbose_name = verbose_name_plural = "云端变更记录"
        constraints = [models.UniqueConstraint(fields=["project", "delta_id"], name="cloud_delta_unique")]

    def __str__(self) -> str:
        return f"{self.delta_id} {self.status}"
