"""Joint-inspection route plans (one day, several teams) and the road network they can be timed on."""

from django.conf import settings
from django.contrib.gis.db import models

from gis_app.lib.history import tracked
from gis_app.lib.srid import WGS84


class Place(models.Model):
    """A named start or end place for teams: the bureau's office, a fire station."""

    name = models.CharField("名称", max_length=100, unique=True)
    location = models.PointField("位置", srid=WGS84)
    note = models.CharField("说明", max_length=200, blank=True)

    class Meta:
        verbose_name = verbose_name_plural = "出发/返回地点"
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class PlanStatus(models.TextChoices):
    DRAFT = "draft", "待规划"
    PLANNING = "planning", "规划中"
    PLANNED = "planned", "已规划"
    FAILED = "failed", "规划失败"


class TravelMode(models.TextChoices):
    ROAD = "road", "路网（pgRouting）"
    STRAIGHT = "straight", "直线距离 × 绕行系数"


class RoutePlan(models.Model):
    title = models.CharField("名称", max_length=100)
    date = models.DateField("检查日期")
    status = models.CharField("状态", max_length=10, choices=PlanStatus.choices, default=PlanStatus.DRAFT)
    speed_kmh = models.FloatField("平均车速（公里/小时）", default=30.0)
    circuity = models.FloatField("绕行系数", default=1.35, help_text="无路网时：路程 ≈ 直线距离 × 绕行系数")
    solver_seconds = models.FloatField("求解时长（秒）", default=3.0)
    travel_mode = models.CharField("行程时间来源", max_length=10, choices=TravelMode.choices, blank=True)
    travel_note = models.CharField("行程时间说明", max_length=300, blank=True)
    travel_seconds = models.PositiveIntegerField("总行驶时间（秒）", null=True, blank=True)
    priority_visited = models.PositiveIntegerField("已安排优先级合计", null=True, blank=True)
    priority_skipped = models.PositiveIntegerField("未安排优先级合计", null=True, blank=True)
    violations = models.JSONField("校验问题", default=list, blank=True)
    previous = models.JSONField(
        "上次规划", default=dict, blank=True, help_text="重新规划前的安排（机构 → 检查组、顺序），用于对比前后变化"
    )
    message = models.CharField("说明", max_length=300, blank=True)
    job = models.ForeignKey("jobs.Job", verbose_name="规划任务", null=True, blank=True, on_delete=models.SET_NULL)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="创建人", null=True,
                                   on_delete=models.SET_NULL)  # fmt: skip
    created_at = models.DateTimeField("创建时间", auto_now_add=True)
    planned_at = models.DateTimeField("规划时间", null=True, blank=True)

    class Meta:
        verbose_name = verbose_name_plural = "联合检查路线"
        ordering = ["-date", "-id"]

    def __str__(self) -> str:
        return f"{self.date} {self.title}"


class Team(models.Model):
    """A joint bureau + fire rescue crew in one vehicle. Times are minutes from 00:00 of the plan's date; a shift
    ending after midnight has an end above 1440 (e.g. 21:00–06:00 is 1260–1800)."""

    plan = models.ForeignKey(RoutePlan, on_delete=models.CASCADE, related_name="teams")
    name = models.CharField("检查组", max_length=50)
    members = models.CharField("成员", max_length=200, blank=True)
    start_name = models.CharField("出发地点", max_length=100)
    start = models.PointField("出发位置", srid=WGS84)
    end_name = models.CharField("返回地点", max_length=100)
    end = models.PointField("返回位置", srid=WGS84)
    shift_start = models.PositiveIntegerField("出发（分钟）")
    shift_end = models.PositiveIntegerField("收班（分钟）")
    break_earliest = models.PositiveIntegerField("休息最早开始（分钟）", null=True, blank=True)
    break_latest = models.PositiveIntegerField("休息最晚开始（分钟）", null=True, blank=True)
    break_minutes = models.PositiveIntegerField("休息时长（分钟）", default=0)
    # Result
    departure = models.PositiveIntegerField("出发时刻（秒）", null=True, blank=True)
    arrival = models.PositiveIntegerField("返回时刻（秒）", null=True, blank=True)
    break_start = models.PositiveIntegerField("休息开始（秒）", null=True, blank=True)
    break_end = models.PositiveIntegerField("休息结束（秒）", null=True, blank=True)
    travel_seconds = models.PositiveIntegerField("行驶时间（秒）", null=True, blank=True)

    class Meta:
        verbose_name = verbose_name_plural = "检查组"
        ordering = ["plan", "id"]
        constraints = [models.UniqueConstraint(fields=["plan", "name"], name="team_name_unique_per_plan")]

    def __str__(self) -> str:
        return self.name


@tracked
class PlanStop(models.Model):
    """A candidate home of a plan: its inputs (priority, service time, window, locks) and, once planned, its place."""

    plan = models.ForeignKey(RoutePlan, on_delete=models.CASCADE, related_name="stops")
    care_home = models.ForeignKey("carehomes.CareHome", verbose_name="养老机构", on_delete=models.CASCADE)
    priority = models.PositiveIntegerField("优先级", help_text="风险分取整（至少 1）；未安排时计为损失")
    service_minutes = models.PositiveIntegerField("检查时长（分钟）")
    window_start = models.PositiveIntegerField("时间窗开始（分钟）", null=True, blank=True)
    window_end = models.PositiveIntegerField("时间窗结束（分钟）", null=True, blank=True)
    reason = models.CharField("入选原因", max_length=100, blank=True)
    urgent = models.BooleanField(
        "必查", default=False, help_text="挂牌督办或有未销号的重大隐患：规划优先安排，未能安排时页面警示并说明原因"
    )
    locked_team = models.ForeignKey(Team, verbose_name="锁定检查组", null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="locked_stops")  # fmt: skip
    locked_position = models.PositiveIntegerField("锁定顺序", null=True, blank=True)
    # Result
    team = models.ForeignKey(Team, verbose_name="检查组", null=True, blank=True, on_delete=models.SET_NULL,
                             related_name="stops")  # fmt: skip
    sequence = models.PositiveIntegerField("顺序", null=True, blank=True)
    arrival = models.PositiveIntegerField("到达（秒）", null=True, blank=True)
    start = models.PositiveIntegerField("开始检查（秒）", null=True, blank=True)
    departure = models.PositiveIntegerField("离开（秒）", null=True, blank=True)
    skipped_reason = models.CharField("未安排原因", max_length=100, blank=True)

    class Meta:
        verbose_name = verbose_name_plural = "路线站点"
        ordering = ["plan", "team", "sequence", "-priority"]
        constraints = [models.UniqueConstraint(fields=["plan", "care_home"], name="stop_home_unique_per_plan")]


class RoadNode(models.Model):
    """A junction of the imported road network (OpenStreetMap node id)."""

    id = models.BigIntegerField(primary_key=True)
    geom = models.PointField(srid=WGS84, spatial_index=True)

    class Meta:
        verbose_name = verbose_name_plural = "路网节点"


class RoadEdge(models.Model):
    """A drivable road segment between two junctions, costed in seconds (pgRouting's cost/reverse_cost: a negative
    reverse cost closes a one-way street against its direction)."""

    source = models.BigIntegerField(db_index=True)
    target = models.BigIntegerField(db_index=True)
    cost = models.FloatField()
    reverse_cost = models.FloatField()
    length_m = models.FloatField()
    highway = models.CharField(max_length=30)
    osm_way = models.BigIntegerField()
    geom = models.LineStringField(srid=WGS84)

    class Meta:
        verbose_name = verbose_name_plural = "路网路段"
