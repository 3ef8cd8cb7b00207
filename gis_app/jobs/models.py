from django.conf import settings
from django.db import models


class JobStatus(models.TextChoices):
    QUEUED = "queued", "排队中"
    RUNNING = "running", "运行中"
    SUCCEEDED = "succeeded", "已完成"
    FAILED = "failed", "失败"


class Job(models.Model):
    """What users see of a background job (its page, progress, result, the reason of a failure); its place in the
    queue is a Procrastinate entry (queue_entry), taken by the workers with SKIP LOCKED."""

    kind = models.CharField("类型", max_length=60)
    unique_key = models.CharField(
        "唯一键",
        max_length=120,
        null=True,
        blank=True,
        unique=True,
        help_text="周期任务每期只建一次，如 hazards.daily:2026-11-30",
    )
    title = models.CharField("名称", max_length=200)
    params = models.JSONField("参数", default=dict, blank=True)
    payload = models.BinaryField("上传文件", null=True, blank=True, editable=False)
    payload_name = models.CharField("文件名", max_length=200, blank=True)
    status = models.CharField("状态", max_length=12, choices=JobStatus.choices, default=JobStatus.QUEUED)
    progress_done = models.PositiveIntegerField("已完成", default=0)
    progress_total = models.PositiveIntegerField("总量", default=0)
    message = models.CharField("进度说明", max_length=300, blank=True)
    result = models.JSONField("结果", null=True, blank=True)
    error = models.TextField("错误", blank=True)
    attempts = models.PositiveSmallIntegerField("已尝试次数", default=0)
    max_attempts = models.PositiveSmallIntegerField("最多尝试次数", default=3)
    run_after = models.DateTimeField("计划时间", auto_now_add=True)
    heartbeat_at = models.DateTimeField("心跳", null=True, blank=True)
    queue_entry = models.BigIntegerField(
        "队列条目", null=True, blank=True, editable=False, help_text="运行本任务的 Procrastinate 队列条目编号"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="提交人", null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField("提交时间", auto_now_add=True)
    started_at = models.DateTimeField("开始时间", null=True, blank=True)
    finished_at = models.DateTimeField("结束时间", null=True, blank=True)

    class Meta:
        verbose_name = verbose_name_plural = "后台任务"
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["status", "run_after"], name="job_claim_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.title} ({self.get_status_display()})"

    @property
    def percent(self) -> int:
        if self.status == JobStatus.SUCCEEDED:
            return 100
        if not self.progress_total:
            return 0
        return min(100, round(100 * self.progress_done / self.progress_total))

    @property
    def is_finished(self) -> bool:
        return self.status in (JobStatus.SUCCEEDED, JobStatus.FAILED)
