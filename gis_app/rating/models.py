from django.conf import settings
from django.db import models

from gis_app.lib.history import tracked
from gis_app.lib.snapshots import BuiltWindow, HomeWindowFigures


class RatingRubric(models.Model):
    """The star-rating rubric as data (categories, items, maximum deductions, caps, vetoes, thresholds), versioned."""

    version = models.CharField("版本", max_length=40, unique=True)
    title = models.CharField("名称", max_length=200)
    effective_on = models.DateField("施行日期")
    is_default = models.BooleanField("默认细则", default=False, help_text="民政局录入正式细则前使用")
    spec = models.JSONField("细则内容")

    class Meta:
        verbose_name = verbose_name_plural = "星级评定细则"
        ordering = ["-effective_on", "-id"]

    def __str__(self) -> str:
        return f"{self.title}（{self.version}）"


@tracked
class StarAssessment(models.Model):
    class Status(models.TextChoices):
        SELF_ASSESSED = "self_assessed", "机构已自评"
        REVIEWED = "reviewed", "民政局已审核"

    care_home = models.ForeignKey(
        "carehomes.CareHome", verbose_name="养老机构", on_delete=models.CASCADE, related_name="star_assessments"
    )
    rubric = models.ForeignKey(RatingRubric, verbose_name="细则", on_delete=models.PROTECT)
    year = models.PositiveSmallIntegerField("年度")
    status = models.CharField("状态", max_length=16, choices=Status.choices, default=Status.SELF_ASSESSED)
    self_deductions = models.JSONField("自评扣分", default=dict)
    self_note = models.TextField("自评说明", blank=True)
    self_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    self_at = models.DateTimeField("自评时间")
    review_deductions = models.JSONField("审核扣分", default=dict)
    review_note = models.TextField("审核意见", blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reviewed_at = models.DateTimeField("审核时间", null=True, blank=True)
    platform_facts = models.JSONField("平台数据", default=dict)
    score = models.FloatField("得分", null=True, blank=True)
    stars = models.PositiveSmallIntegerField("星级", null=True, blank=True, help_text="空：不予评定")
    vetoes = models.JSONField("否决项", default=list)
    valid_until = models.DateField("有效期至", null=True, blank=True)

    class Meta:
        verbose_name = verbose_name_plural = "星级评定"
        ordering = ["-year", "-self_at"]
        constraints = [models.UniqueConstraint(fields=["care_home", "year"], name="one_star_assessment_per_home_year")]

    def __str__(self) -> str:
        return f"{self.care_home} {self.year}"


class DrillRecord(models.Model):
    """培训演练: training, evacuation drills and fire-fighting drills, with the four capabilities observed."""

    class Kind(models.TextChoices):
        TRAINING = "training", "消防培训"
        EVACUATION = "evacuation", "疏散演练"
        FIREFIGHTING = "firefighting", "灭火演练"

    care_home = models.ForeignKey(
        "carehomes.CareHome", verbose_name="养老机构", on_delete=models.CASCADE, related_name="drills"
    )
    held_on = models.DateField("日期")
    kind = models.CharField("类型", max_length=14, choices=Kind.choices)
    participants = models.PositiveIntegerField("参加人数")
    content = models.TextField("内容")
    first_response_1min = models.BooleanField("1分钟内完成初期处置", null=True, blank=True)
    second_force_3min = models.BooleanField("3分钟内形成第二战斗力量", null=True, blank=True)
    evacuation_organised = models.BooleanField("组织疏散逃生有序", null=True, blank=True)
    publicity_done = models.BooleanField("开展消防宣传教育", null=True, blank=True)
    attachment = models.FileField("附件", upload_to="drills/%Y/", null=True, blank=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        verbose_name = verbose_name_plural = "培训演练记录"
        ordering = ["-held_on"]

    def __str__(self) -> str:
        return f"{self.care_home} {self.get_kind_display()} {self.held_on}"


class AnnualFigures(HomeWindowFigures):
    """A home's stored 年度考核 figures for a year (checks due/done, hazards, drills, stars): what the page reads at a
    province's scale (gis_app/lib/snapshots.py). Kept exact by triggers on the tables it counts (migration 0003)."""

    care_home = models.ForeignKey("carehomes.CareHome", on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["start", "end", "care_home"], name="annualfigures_one")]
        indexes = [models.Index(fields=["start", "end"], condition=models.Q(stale=True), name="annualfigures_stale")]


class AnnualWindow(BuiltWindow):
    class Meta:
        constraints = [models.UniqueConstraint(fields=["start", "end"], name="annualwindow_one")]
