"""The checklist catalogue (versioned data), major-hazard criteria, inspections and their results."""

from datetime import date, timedelta

from django.conf import settings
from django.contrib.gis.db import models
from django.db.models import Q

from gis_app.lib.history import tracked
from gis_app.lib.snapshots import BuiltWindow, HomeWindowFigures
from gis_app.lib.srid import WGS84


class Frequency(models.TextChoices):
    SHIFT = "shift", "每班"
    DAILY = "daily", "每日（防火巡查）"
    NIGHTLY = "nightly", "每夜（夜间巡查）"
    WEEKLY = "weekly", "每周"
    MONTHLY = "monthly", "每月"
    QUARTERLY = "quarterly", "每季度"
    HALF_YEARLY = "half_yearly", "每半年"
    YEARLY = "yearly", "每年"


def period_start(frequency: str, day: date) -> date:
    """The first day of the period of `frequency` that contains `day` (weeks start on Monday)."""
    if frequency in (Frequency.SHIFT, Frequency.DAILY, Frequency.NIGHTLY):
        return day
    if frequency == Frequency.WEEKLY:
        return day - timedelta(days=day.weekday())
    if frequency == Frequency.MONTHLY:
        return day.replace(day=1)
    if frequency == Frequency.QUARTERLY:
        return day.replace(month=(day.month - 1) // 3 * 3 + 1, day=1)
    if frequency == Frequency.HALF_YEARLY:
        return day.replace(month=1 if day.month <= 6 else 7, day=1)
    if frequency == Frequency.YEARLY:
        return day.replace(month=1, day=1)
    raise ValueError(frequency)


def next_period_start(frequency: str, start: date) -> date:
    if frequency in (Frequency.SHIFT, Frequency.DAILY, Frequency.NIGHTLY):
        return start + timedelta(days=1)
    if frequency == Frequency.WEEKLY:
        return start + timedelta(days=7)
    months = {Frequency.MONTHLY: 1, Frequency.QUARTERLY: 3, Frequency.HALF_YEARLY: 6, Frequency.YEARLY: 12}[frequency]
    month = start.month - 1 + months
    return start.replace(year=start.year + month // 12, month=month % 12 + 1, day=1)


def required_per_period(frequency: str) -> int:
    """Shift checks: one per shift; every other check: one per period."""
    return settings.SHIFTS_PER_DAY if frequency == Frequency.SHIFT else 1


class KeyPlace(models.Model):
    code = models.CharField("代码", max_length=40, unique=True)
    name = models.CharField("重点部位", max_length=50)
    order = models.PositiveSmallIntegerField("排序", default=0)

    class Meta:
        verbose_name = verbose_name_plural = "重点部位"
        ordering = ["order", "code"]

    def __str__(self) -> str:
        return self.name


class CriterionSet(models.Model):
    """A standard for judging major hazards, with the dates it is in force (e.g. MCA 2023, GB 35181-2017/2025)."""

    code = models.CharField("代码", max_length=40, unique=True)
    title = models.CharField("名称", max_length=200)
    effective_from = models.DateField("施行日期")
    effective_to = models.DateField("废止日期", null=True, blank=True)
    note = models.TextField("说明", blank=True)

    class Meta:
        verbose_name = verbose_name_plural = "重大隐患判定标准"
        ordering = ["-effective_from"]

    def __str__(self) -> str:
        return self.title

    def in_force_on(self, day: date) -> bool:
        return self.effective_from <= day and (self.effective_to is None or day < self.effective_to)


class Criterion(models.Model):
    criterion_set = models.ForeignKey(
        CriterionSet, verbose_name="标准", on_delete=models.CASCADE, related_name="criteria"
    )
    code = models.CharField("条款代码", max_length=40, unique=True)
    category = models.CharField("类别", max_length=50)
    text = models.TextField("判定情形")

    class Meta:
        verbose_name = verbose_name_plural = "重大隐患判定条款"
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} {self.text[:30]}"


class ChecklistVersion(models.Model):
    code = models.CharField("版本", max_length=40, unique=True)
    title = models.CharField("名称", max_length=200)
    effective_on = models.DateField("启用日期")
    note = models.TextField("说明", blank=True)

    class Meta:
        verbose_name = verbose_name_plural = "检查表版本"
        ordering = ["-effective_on"]

    def __str__(self) -> str:
        return f"{self.title}（{self.code}）"

    @classmethod
    def in_force(cls, day: date | None = None) -> "ChecklistVersion | None":
        from gis_app.lib import clock

        return cls.objects.filter(effective_on__lte=day or clock.today()).order_by("-effective_on").first()


class CheckItem(models.Model):
    version = models.ForeignKey(
        ChecklistVersion, verbose_name="检查表版本", on_delete=models.CASCADE, related_name="items"
    )
    code = models.CharField("代码", max_length=40)
    key_place = models.ForeignKey(KeyPlace, verbose_name="重点部位", on_delete=models.PROTECT)
    text = models.TextField("检查内容")
    legal_basis = models.CharField("依据", max_length=300, blank=True)
    frequency = models.CharField("频次", max_length=12, choices=Frequency.choices)
    responsible_post = models.CharField("责任岗位", max_length=100, blank=True)
    major_criterion = models.ForeignKey(
        Criterion, verbose_name="不合格即构成重大隐患的判定条款", null=True, blank=True, on_delete=models.PROTECT
    )
    order = models.PositiveSmallIntegerField("排序", default=0)

    class Meta:
        verbose_name = verbose_name_plural = "检查项"
        ordering = ["version", "order", "code"]
        constraints = [models.UniqueConstraint(fields=["version", "code"], name="checkitem_unique_code_per_version")]

    def __str__(self) -> str:
        return f"{self.code} {self.text[:40]}"


class InspectionKind(models.TextChoices):
    SELF_CHECK = "self_check", "自查"
    PATROL = "patrol", "巡查"
    JOINT = "joint", "联合检查"
    COVERT = "covert", "明察暗访"
    THIRD_PARTY = "third_party", "第三方检查"


class InspectionQuerySet(models.QuerySet):
    def for_homes(self, homes):
        return self.filter(care_home__in=homes)


@tracked
class Inspection(models.Model):
    care_home = models.ForeignKey(
        "carehomes.CareHome", verbose_name="养老机构", on_delete=models.PROTECT, related_name="inspections"
    )
    kind = models.CharField("检查类型", max_length=12, choices=InspectionKind.choices)
    frequency = models.CharField(
        "计划频次", max_length=12, choices=Frequency.choices, null=True, blank=True,
        help_text="自查时：本次完成的是哪一频次的检查",
    )  # fmt: skip
    version = models.ForeignKey(ChecklistVersion, verbose_name="检查表版本", on_delete=models.PROTECT)
    inspected_on = models.DateField("检查日期")
    note = models.TextField("总体情况", blank=True)
    signed_by_name = models.CharField("签字人", max_length=50)
    signed_at = models.DateTimeField("签字时间")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="录入人", null=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField("录入时间", auto_now_add=True)
    uuid = models.UUIDField("UUID", unique=True, null=True, blank=True, help_text="外业采集时的唯一标识")

    objects = InspectionQuerySet.as_manager()

    class Meta:
        verbose_name = verbose_name_plural = "检查记录"
        ordering = ["-inspected_on", "-id"]
        indexes = [models.Index(fields=["care_home", "frequency", "inspected_on"], name="inspection_schedule_idx")]
        constraints = [
            models.CheckConstraint(
                condition=~Q(kind="self_check") | Q(frequency__isnull=False),
                name="inspection_self_check_has_frequency",
                violation_error_message="自查必须指定频次",
            )
        ]

    def __str__(self) -> str:
        return f"{self.care_home} {self.get_kind_display()} {self.inspected_on}"

    @property
    def failed_count(self) -> int:
        return self.results.filter(result=CheckResult.Result.FAIL).count()


class Inspector(models.Model):
    """One of the people on an inspection, possibly from another agency and without an account."""

    inspection = models.ForeignKey(Inspection, on_delete=models.CASCADE, related_name="inspectors")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    name = models.CharField("姓名", max_length=50)
    organisation = models.CharField("单位", max_length=100, blank=True)

    class Meta:
        verbose_name = verbose_name_plural = "检查人员"

    def __str__(self) -> str:
        return f"{self.name}（{self.organisation}）" if self.organisation else self.name


class CheckResult(models.Model):
    class Result(models.TextChoices):
        PASS = "pass", "合格"
        FAIL = "fail", "不合格"
        NOT_APPLICABLE = "na", "不适用"

    inspection = models.ForeignKey(Inspection, on_delete=models.CASCADE, related_name="results")
    care_home = models.ForeignKey("carehomes.CareHome", on_delete=models.PROTECT, related_name="+")  # shard key
    item = models.ForeignKey(CheckItem, verbose_name="检查项", on_delete=models.PROTECT)
    result = models.CharField("结果", max_length=4, choices=Result.choices)
    note = models.TextField("说明", blank=True)
    location = models.PointField("位置", srid=WGS84, null=True, blank=True)
    photo = models.ImageField("照片", upload_to="checks/%Y/%m/", null=True, blank=True)

    class Meta:
        verbose_name = verbose_name_plural = "检查结果"
        ordering = ["item__order", "item__code"]
        constraints = [models.UniqueConstraint(fields=["inspection", "item"], name="checkresult_one_per_item")]

    def __str__(self) -> str:
        return f"{self.item.code}: {self.get_result_display()}"


class ScheduleFigures(HomeWindowFigures):
    """A home's stored schedule status (due, done, missed per frequency) for a window: what 漏检统计 and 年度考核 read at
    a province's scale (gis_app/lib/snapshots.py). Kept exact by triggers on inspections (migration 0003)."""

    care_home = models.ForeignKey("carehomes.CareHome", on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["start", "end", "care_home"], name="schedulefigures_one")]
        indexes = [
            models.Index(fields=["start", "end", "-sort_value"], name="schedulefigures_rank"),
            models.Index(fields=["start", "end"], condition=Q(stale=True), name="schedulefigures_stale"),
        ]


class ScheduleWindow(BuiltWindow):
    class Meta:
        constraints = [models.UniqueConstraint(fields=["start", "end"], name="schedulewindow_one")]
