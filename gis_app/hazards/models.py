"""The hazard ledger (台账): hazards, their append-only history, photos, and listed supervision (挂牌督办)."""

from django.conf import settings
from django.contrib.gis.db import models
from django.db.models import Q

from gis_app.lib import clock
from gis_app.lib.history import tracked
from gis_app.lib.srid import WGS84


class Severity(models.TextChoices):
    GENERAL = "general", "一般隐患"
    MAJOR = "major", "重大隐患"


class Category(models.TextChoices):
    ELECTRICAL = "electrical", "电气线路与用电"
    EBIKE = "ebike", "电动自行车停放充电"
    FIRE_LANE = "fire_lane", "消防车通道"
    EXITS = "exits", "安全出口与疏散通道"
    EQUIPMENT = "equipment", "消防设施器材"
    FLAMMABLES = "flammables", "易燃易爆物品"
    OPEN_FLAME = "open_flame", "用火与吸烟"
    BUILDING = "building", "建筑与装修"
    CONTROL_ROOM = "control_room", "消防控制室"
    MANAGEMENT = "management", "制度与管理"
    TRAINING = "training", "培训与演练"
    OTHER = "other", "其他"


class Status(models.TextChoices):
    REPORTED = "reported", "已上报"
    ASSIGNED = "assigned", "已交办"
    RECTIFYING = "rectifying", "整改中"
    SUBMITTED = "submitted", "待复查"
    VERIFIED = "verified", "复查通过"
    CLOSED = "closed", "已销号"
    CLOSED_UNFIXED = "closed_unfixed", "未整改关闭"
    REOPENED = "reopened", "已重新打开"


OPEN_STATUSES = (
    Status.REPORTED,
    Status.ASSIGNED,
    Status.RECTIFYING,
    Status.SUBMITTED,
    Status.VERIFIED,
    Status.REOPENED,
)
FINAL_STATUSES = (Status.CLOSED, Status.CLOSED_UNFIXED)


class HazardQuerySet(models.QuerySet):
    def open(self):
        return self.filter(status__in=OPEN_STATUSES)

    def closed(self):
        return self.filter(status__in=FINAL_STATUSES)

    def overdue(self, today=None):
        return self.open().filter(due_on__lt=today or clock.today())

    def major(self):
        return self.filter(severity=Severity.MAJOR)


@tracked
class Hazard(models.Model):
    care_home = models.ForeignKey(
        "carehomes.CareHome", verbose_name="养老机构", on_delete=models.PROTECT, related_name="hazards"
    )
    key_place = models.ForeignKey(
        "inspections.KeyPlace", verbose_name="重点部位", null=True, blank=True, on_delete=models.PROTECT
    )
    category = models.CharField("类别", max_length=20, choices=Category.choices, default=Category.OTHER)
    description = models.TextField("隐患描述")
    location = models.PointField("位置", srid=WGS84, null=True, blank=True)
    severity = models.CharField("等级", max_length=10, choices=Severity.choices, default=Severity.GENERAL)
    criterion = models.ForeignKey(
        "inspections.Criterion", verbose_name="重大隐患判定条款", null=True, blank=True, on_delete=models.PROTECT
    )
    inspection = models.ForeignKey(
        "inspections.Inspection", verbose_name="发现于检查", null=True, blank=True, on_delete=models.PROTECT, related_name="hazards"
    )  # fmt: skip
    check_result = models.OneToOneField(
        "inspections.CheckResult", verbose_name="对应检查项", null=True, blank=True, on_delete=models.PROTECT, related_name="hazard"
    )  # fmt: skip
    found_on = models.DateField("发现日期")
    found_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="发现人", null=True, on_delete=models.SET_NULL, related_name="+"
    )
    responsible_person = models.CharField("整改责任人", max_length=50, blank=True)
    responsible_phone = models.CharField("责任人电话", max_length=30, blank=True)
    due_on = models.DateField("整改期限")
    status = models.CharField("状态", max_length=16, choices=Status.choices, default=Status.REPORTED)
    # 整改方案 for a hazard that cannot be fixed quickly
    plan_measures = models.TextField("整改措施", blank=True)
    plan_safeguards = models.TextField("临时防范措施", blank=True)
    plan_due_on = models.DateField("方案完成日期", null=True, blank=True)
    rectification_note = models.TextField("整改情况", blank=True)
    delay_reason = models.TextField("逾期理由", blank=True)
    delay_reason_accepted = models.BooleanField(
        "逾期理由已认可", default=False, help_text="民政局认可后不作为失信名单候选"
    )
    rectified_on = models.DateField("整改完成日期", null=True, blank=True)
    verified_on = models.DateField("复查日期", null=True, blank=True)
    verified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="复查人",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    closed_on = models.DateField("销号日期", null=True, blank=True)
    uuid = models.UUIDField("UUID", unique=True, null=True, blank=True, help_text="外业采集时的唯一标识")
    created_at = models.DateTimeField("创建时间", auto_now_add=True)
    updated_at = models.DateTimeField("更新时间", auto_now=True)

    objects = HazardQuerySet.as_manager()

    class Meta:
        verbose_name = verbose_name_plural = "隐患"
        ordering = ["-found_on", "-id"]
        indexes = [
            models.Index(fields=["care_home", "status"], name="hazard_home_status_idx"),
            models.Index(fields=["status", "due_on"], name="hazard_status_due_idx"),
            # the ledger's order: page 1 of a million hazards reads 50 index entries instead of sorting them all
            models.Index(fields=["-found_on", "-id"], name="hazard_ledger_order_idx"),
            # 风险看板's overdue major hazards, oldest deadline first: 20 index entries instead of ~580k open rows
            models.Index(
                fields=["due_on"],
                condition=Q(severity="major", status__in=OPEN_STATUSES),
                name="hazard_open_major_due_idx",
            ),
            # 挂牌督办's waiting list, longest waiting first: a page of it without sorting every open major hazard
            models.Index(
                fields=["found_on", "id"],
                condition=Q(severity="major", status__in=OPEN_STATUSES),
                name="hazard_open_major_found_idx",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~Q(severity="major") | Q(criterion__isnull=False),
                name="hazard_major_has_criterion",
                violation_error_message="重大隐患必须注明判定条款",
            ),
            models.CheckConstraint(condition=Q(due_on__gte=models.F("found_on")), name="hazard_due_after_found"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.description[:30]}"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def is_overdue(self) -> bool:
        return self.is_open and self.due_on < clock.today()

    @property
    def days_overdue(self) -> int:
        return max(0, (clock.today() - self.due_on).days) if self.is_open else 0

    @property
    def days_open(self) -> int:
        end = self.closed_on if not self.is_open and self.closed_on else clock.today()
        return (end - self.found_on).days


class HazardPhoto(models.Model):
    class Stage(models.TextChoices):
        BEFORE = "before", "整改前"
        AFTER = "after", "整改后"

    hazard = models.ForeignKey(Hazard, on_delete=models.CASCADE, related_name="photos")
    stage = models.CharField("阶段", max_length=6, choices=Stage.choices)
    image = models.ImageField("照片", upload_to="hazards/%Y/%m/")
    taken_at = models.DateTimeField("拍摄/上传时间", auto_now_add=True)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        verbose_name = verbose_name_plural = "隐患照片"
        ordering = ["stage", "taken_at"]


class HazardEvent(models.Model):
    """The history of a hazard: appended by the services, never changed (a database trigger refuses UPDATE/DELETE)."""

    hazard = models.ForeignKey(Hazard, on_delete=models.PROTECT, related_name="events")
    care_home = models.ForeignKey("carehomes.CareHome", on_delete=models.PROTECT, related_name="+")  # shard key
    at = models.DateTimeField("时间")
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="操作人", null=True, on_delete=models.PROTECT, related_name="+"
    )
    by_name = models.CharField("操作人姓名", max_length=100)
    action = models.CharField("操作", max_length=30)
    from_status = models.CharField("原状态", max_length=16, choices=Status.choices, blank=True)
    to_status = models.CharField("新状态", max_length=16, choices=Status.choices)
    comment = models.TextField("说明", blank=True)
    # Filled by PostgreSQL on insert (migration 0004): sha256 over the previous entry's hash of the same hazard and
    # this entry's contents. Changing, removing or inserting an entry breaks the chain: `manage.py verify_ledger`.
    prev_hash = models.CharField("前一条摘要", max_length=64, blank=True, editable=False)
    hash = models.CharField("摘要", max_length=64, blank=True, editable=False)

    class Meta:
        verbose_name = verbose_name_plural = "隐患处理记录"
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.by_name} {self.action}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise PermissionError("隐患处理记录不可修改")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionError("隐患处理记录不可删除")


class SupervisionListing(models.Model):
    """挂牌督办 of a major hazard by the bureau; delisting (摘牌) only after the hazard is closed."""

    hazard = models.OneToOneField(Hazard, verbose_name="隐患", on_delete=models.PROTECT, related_name="listing")
    supervising_department = models.CharField("督办部门", max_length=100)
    listed_on = models.DateField("挂牌日期")
    deadline = models.DateField("督办期限")
    listed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="挂牌人", null=True, on_delete=models.SET_NULL, related_name="+"
    )
    delisted_on = models.DateField("摘牌日期", null=True, blank=True)
    delisted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="摘牌人",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        verbose_name = verbose_name_plural = "挂牌督办"
        ordering = ["-listed_on"]

    def __str__(self) -> str:
        return f"挂牌督办：{self.hazard}"

    @property
    def is_active(self) -> bool:
        return self.delisted_on is None


class SupervisionEntry(models.Model):
    listing = models.ForeignKey(SupervisionListing, on_delete=models.CASCADE, related_name="entries")
    at = models.DateTimeField("时间")
    by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    note = models.TextField("督办情况")

    class Meta:
        verbose_name = verbose_name_plural = "督办跟踪记录"
        ordering = ["at"]


class Accident(models.Model):
    """A fire accident at a home, recorded so that the persons mainly or directly responsible can be listed."""

    care_home = models.ForeignKey(
        "carehomes.CareHome", verbose_name="养老机构", on_delete=models.PROTECT, related_name="accidents"
    )
    occurred_on = models.DateField("发生日期")
    description = models.TextField("事故情况")
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        verbose_name = verbose_name_plural = "火灾事故"
        ordering = ["-occurred_on"]

    def __str__(self) -> str:
        return f"{self.care_home} {self.occurred_on}"


class AccidentResponsibility(models.Model):
    class Degree(models.TextChoices):
        MAIN = "main", "主要责任"
        DIRECT = "direct", "直接责任"

    accident = models.ForeignKey(Accident, on_delete=models.CASCADE, related_name="responsibilities")
    person_name = models.CharField("责任人", max_length=50)
    degree = models.CharField("责任", max_length=10, choices=Degree.choices)
    punished_on = models.DateField("受到主管部门处罚日期", null=True, blank=True)

    class Meta:
        verbose_name = verbose_name_plural = "事故责任人"

    def __str__(self) -> str:
        return f"{self.person_name}（{self.get_degree_display()}）"


class DishonestyListEntryQuerySet(models.QuerySet):
    def current(self, today=None):
        today = today or clock.today()
        return self.filter(listed_on__lte=today, removed_on__isnull=True).exclude(removal_on__lte=today)


class DishonestyListEntry(models.Model):
    """失信联合惩戒名单: decided by the bureau, with its basis, listing date and (planned) removal date."""

    class Subject(models.TextChoices):
        CARE_HOME = "care_home", "养老机构"
        PERSON = "person", "个人"

    subject = models.CharField("对象类型", max_length=10, choices=Subject.choices)
    care_home = models.ForeignKey(
        "carehomes.CareHome", verbose_name="养老机构", on_delete=models.PROTECT, related_name="dishonesty_entries"
    )
    person_name = models.CharField("个人姓名", max_length=50, blank=True)
    hazard = models.ForeignKey(Hazard, verbose_name="依据隐患", null=True, blank=True, on_delete=models.PROTECT)
    responsibility = models.ForeignKey(
        AccidentResponsibility, verbose_name="依据事故责任", null=True, blank=True, on_delete=models.PROTECT
    )
    basis = models.TextField("列入依据")
    listed_on = models.DateField("列入日期")
    removal_on = models.DateField("移出日期（期满）")
    removed_on = models.DateField("提前移出日期", null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="决定人", null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = DishonestyListEntryQuerySet.as_manager()

    class Meta:
        verbose_name = verbose_name_plural = "失信联合惩戒名单"
        ordering = ["-listed_on", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(removal_on__gt=models.F("listed_on")), name="dishonesty_removal_after_listing"
            ),
            models.CheckConstraint(
                condition=~Q(subject="person") | ~Q(person_name=""), name="dishonesty_person_has_name"
            ),
        ]

    def __str__(self) -> str:
        return self.subject_name

    @property
    def subject_name(self) -> str:
        return self.person_name if self.subject == self.Subject.PERSON else self.care_home.name


class LedgerCount(models.Model):
    """Signed counts of hazards per (status, due_on), appended by triggers (gis_app/hazards/ledger_counts.py)."""

    status = models.CharField(max_length=16)
    due_on = models.DateField()
    n = models.BigIntegerField()

    class Meta:
        verbose_name = verbose_name_plural = "隐患台账计数"
        default_permissions = ()

    def __str__(self) -> str:
        return f"{self.status} {self.due_on} {self.n:+d}"
