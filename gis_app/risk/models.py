from django.contrib.postgres.fields import ArrayField
from django.db import models


class RiskModel(models.Model):
    """The scoring weights as data (fixtures/risk_weights.json), editable by the bureau; the newest version applies."""

    version = models.CharField("版本", max_length=20, unique=True)
    title = models.CharField("名称", max_length=200)
    note = models.TextField("说明", blank=True)
    items = models.JSONField("评分项", help_text='[{"code", "label", "unit", "weight", "cap", "note"}]')
    created_at = models.DateTimeField("创建时间", auto_now_add=True)

    class Meta:
        verbose_name = verbose_name_plural = "风险评分权重"
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.title}（{self.version}）"

    @classmethod
    def current(cls) -> "RiskModel":
        return cls.objects.first()


class RiskScore(models.Model):
    """A care home's current score and the input values it came from (in scoring.INPUTS order); with the weights of
    `model` they explain the score item by item (`components`). Stored compactly: 40,000 rows rewrite in a second."""

    care_home = models.OneToOneField(
        "carehomes.CareHome", on_delete=models.CASCADE, related_name="risk", primary_key=True
    )
    score = models.FloatField("风险分", db_index=True)
    inputs = ArrayField(models.FloatField(), verbose_name="评分输入")
    model = models.ForeignKey(RiskModel, verbose_name="权重版本", on_delete=models.PROTECT)
    computed_at = models.DateTimeField("计算时间")

    class Meta:
        verbose_name = verbose_name_plural = "风险评分"

    def __str__(self) -> str:
        return f"{self.care_home_id}: {self.score}"

    @property
    def components(self) -> list[dict]:
        from .scoring import INPUTS, explain

        return explain(dict(zip(INPUTS, self.inputs, strict=False)), self.model.items)


class SubdistrictRisk(models.Model):
    """Stored aggregates per 街镇 (subdistrict NULL: the whole district), so the bureau's tables are served instantly."""

    subdistrict = models.OneToOneField(
        "carehomes.Subdistrict", null=True, blank=True, on_delete=models.CASCADE, related_name="risk"
    )
    homes = models.PositiveIntegerField("养老机构数")
    open_general = models.PositiveIntegerField("在办一般隐患")
    open_major = models.PositiveIntegerField("在办重大隐患")
    overdue = models.PositiveIntegerField("逾期隐患")
    found_total = models.PositiveIntegerField("累计发现隐患")
    closed_total = models.PositiveIntegerField("累计销号")
    closed_in_period = models.PositiveIntegerField("近30天销号")
    zero_out_rate = models.FloatField("清零率", help_text="累计销号 ÷ 累计发现")
    mean_risk = models.FloatField("平均风险分")
    max_risk = models.FloatField("最高风险分")
    # The district row only: the rest of 风险看板 for a whole province (categories, months, campaign phases), computed
    # with the same functions the page uses for a smaller scope (risk/dashboard.py: district_details).
    details = models.JSONField("看板数据", default=dict, blank=True)
    computed_at = models.DateTimeField("计算时间")

    class Meta:
        verbose_name = verbose_name_plural = "街镇风险汇总"

    def __str__(self) -> str:
        return f"{self.subdistrict or '全区'}: {self.mean_risk}"


class Campaign(models.Model):
    """A rectification campaign and its phases: data, so the same machinery serves year after year."""

    code = models.CharField("代码", max_length=40, unique=True)
    title = models.CharField("名称", max_length=200)
    start_on = models.DateField("开始日期")
    end_on = models.DateField("结束日期")

    class Meta:
        verbose_name = verbose_name_plural = "专项行动"
        ordering = ["-start_on"]

    def __str__(self) -> str:
        return self.title


class CampaignPhase(models.Model):
    class Metric(models.TextChoices):
        COMMITMENT = "commitment", "作出公开承诺的机构占比"
        SELF_CHECKED = "self_checked", "开展自查的机构占比"
        MAJORS_CLOSED = "majors_closed", "重大隐患销号率"
        ZERO_OPEN = "zero_open", "隐患清零的机构占比"

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="phases")
    order = models.PositiveSmallIntegerField("顺序")
    name = models.CharField("阶段", max_length=50)
    start_on = models.DateField("开始日期")
    end_on = models.DateField("结束日期")
    goal = models.CharField("目标", max_length=200)
    metric = models.CharField("进度指标", max_length=20, choices=Metric.choices)

    class Meta:
        verbose_name = verbose_name_plural = "行动阶段"
        ordering = ["campaign", "order"]

    def __str__(self) -> str:
        return self.name


class HazardCell(models.Model):
    """Signed hazard counts per cell of a grid (0: the heat layer's; 1..: hexagons), appended by triggers
    (gis_app/risk/heat_cells.py)."""

    grid = models.SmallIntegerField()
    cx = models.IntegerField()
    cy = models.IntegerField()
    severity = models.CharField(max_length=10)
    category = models.CharField(max_length=30)
    open = models.BooleanField()
    n = models.BigIntegerField()

    class Meta:
        verbose_name = verbose_name_plural = "隐患热力格计数"
        default_permissions = ()
        indexes = [models.Index(fields=["grid", "cx", "cy"], name="risk_hazardcell_grid_cell")]

    def __str__(self) -> str:
        return f"{self.grid}: ({self.cx}, {self.cy}) {self.severity}/{self.category} {self.n:+d}"
