from django.conf import settings
from django.contrib.gis.db import models

from gis_app.lib.history import tracked
from gis_app.lib.srid import WGS84


class Vendor(models.Model):
    """An IoT platform vendor: its webhook requests are signed with its secret (HMAC-SHA256)."""

    slug = models.SlugField("标识", unique=True)
    name = models.CharField("名称", max_length=100)
    secret = models.CharField("签名密钥", max_length=200)
    active = models.BooleanField("启用", default=True)

    class Meta:
        verbose_name = verbose_name_plural = "物联网厂商"

    def __str__(self) -> str:
        return self.name


class DeviceKind(models.TextChoices):
    ELECTRICAL_MONITOR = "electrical_monitor", "电气火灾监控"
    SMART_ELECTRICITY = "smart_electricity", "智慧用电"
    SMOKE_ALARM = "smoke_alarm", "独立式感烟报警器（单点报警）"
    PANEL = "panel", "消防控制室主机"
    WATER_PRESSURE = "water_pressure", "水压监测"


@tracked
class Device(models.Model):
    vendor = models.ForeignKey(Vendor, verbose_name="厂商", on_delete=models.PROTECT, related_name="devices")
    vendor_device_id = models.CharField("厂商设备编号", max_length=100)
    care_home = models.ForeignKey(
        "carehomes.CareHome", verbose_name="养老机构", on_delete=models.CASCADE, related_name="devices"
    )
    kind = models.CharField("类型", max_length=20, choices=DeviceKind.choices)
    name = models.CharField("名称/位置说明", max_length=100, blank=True)
    location = models.PointField("位置", srid=WGS84, null=True, blank=True)
    equipment_uuid = models.UUIDField("对应消防设施要素", null=True, blank=True)

    class Meta:
        verbose_name = verbose_name_plural = "物联网设备"
        constraints = [models.UniqueConstraint(fields=["vendor", "vendor_device_id"], name="device_unique_per_vendor")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.name or self.vendor_device_id}"


class EventKind(models.TextChoices):
    FIRE = "fire", "火警"
    FAULT = "fault", "故障"
    ISOLATED = "isolated", "屏蔽/停用"
    POWER_LOSS = "power_loss", "断电"
    RECOVERY = "recovery", "恢复"
    TEST = "test", "测试"


class AlarmStatus(models.TextChoices):
    NEW = "new", "未处理"
    ACKNOWLEDGED = "acknowledged", "已确认"
    HANDLED = "handled", "已处置"


class AlarmEvent(models.Model):
    vendor = models.ForeignKey(Vendor, on_delete=models.PROTECT, related_name="+")
    vendor_event_id = models.CharField("厂商事件编号", max_length=100)
    device = models.ForeignKey(Device, verbose_name="设备", on_delete=models.PROTECT, related_name="events")
    care_home = models.ForeignKey(
        "carehomes.CareHome", verbose_name="养老机构", on_delete=models.PROTECT, related_name="+"
    )
    kind = models.CharField("类型", max_length=12, choices=EventKind.choices)
    occurred_at = models.DateTimeField("设备时间")
    received_at = models.DateTimeField("接收时间", auto_now_add=True)
    status = models.CharField("状态", max_length=12, choices=AlarmStatus.choices, default=AlarmStatus.NEW)
    false_alarm = models.BooleanField("误报", default=False)
    note = models.TextField("处置说明", blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    handled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    handled_at = models.DateTimeField(null=True, blank=True)
    hazard = models.ForeignKey(
        "hazards.Hazard", null=True, blank=True, on_delete=models.SET_NULL, related_name="alarm_events"
    )
    payload = models.JSONField("原始数据", default=dict)

    class Meta:
        verbose_name = verbose_name_plural = "告警事件"
        ordering = ["-id"]
        constraints = [models.UniqueConstraint(fields=["vendor", "vendor_event_id"], name="alarm_event_idempotent")]
        indexes = [models.Index(fields=["device", "occurred_at"], name="alarm_device_time_idx")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.device}"
