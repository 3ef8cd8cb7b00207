from django.conf import settings
from django.contrib.gis.db import models
from django.core.exceptions import ValidationError
from django.db.models import Q

from gis_app.lib.history import tracked
from gis_app.lib.srid import WGS84

from .credit_code import credit_code_error, normalise


class SubdistrictKind(models.TextChoices):
    STREET = "street", "街道"
    TOWN = "town", "镇"


class SubdistrictQuerySet(models.QuerySet):
    def containing(self, point):
        """The 街镇 that cover a point; on a shared border the lowest code wins, so the answer is stable."""
        return self.filter(boundary__covers=point).order_by("code")


class Subdistrict(models.Model):
    code = models.CharField("区划代码", max_length=12, unique=True)
    name = models.CharField("名称", max_length=50, unique=True)
    kind = models.CharField("类型", max_length=10, choices=SubdistrictKind.choices)
    boundary = models.MultiPolygonField("边界", srid=WGS84)
    boundary_is_approximate = models.BooleanField(
        "演示用近似边界", default=True, help_text="由近似中心点生成，仅供演示；请导入民政局的正式边界"
    )
    boundary_source = models.CharField("边界来源", max_length=200, blank=True)
    public_contact = models.CharField(
        "对外联系方式",
        max_length=100,
        blank=True,
        default="",
        db_default="",  # rows written by SQL (bulk loads, benchmarks) need not name it
        help_text="在公示页面上公开，供群众咨询、举报，如：平安建设办公室 022-25xxxxxx",
    )
    updated_at = models.DateTimeField("更新时间", auto_now=True)

    objects = SubdistrictQuerySet.as_manager()

    class Meta:
        verbose_name = verbose_name_plural = "街镇"
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name


@tracked
class SafetyServiceProvider(models.Model):
    """第三方安全服务机构: inspects and advises the homes it is contracted to."""

    name = models.CharField("名称", max_length=100, unique=True)
    contact_person = models.CharField("联系人", max_length=50, blank=True)
    phone = models.CharField("联系电话", max_length=30, blank=True)

    class Meta:
        verbose_name = verbose_name_plural = "第三方安全服务机构"
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Ownership(models.TextChoices):
    PUBLIC = "public", "公办"
    PRIVATE = "private", "民办"
    PUBLIC_BUILT_PRIVATE_RUN = "public_private", "公建民营"


class CareHomeStatus(models.TextChoices):
    OPERATING = "operating", "运营中"
    SUSPENDED = "suspended", "停业整顿"
    CLOSED = "closed", "已关闭"


class CoordinateSystem(models.TextChoices):
    WGS84 = "wgs84", "WGS84（GPS、QField）"
    CGCS2000 = "cgcs2000", "CGCS2000（天地图）"
    GCJ02 = "gcj02", "GCJ-02（高德、腾讯）"
    BD09 = "bd09", "BD-09（百度）"


def validate_credit_code(value: str) -> None:
    error = credit_code_error(value)
    if error:
        raise ValidationError(error, code="credit_code")


class LocationStatus(models.TextChoices):
    CONFIRMED = "confirmed", "已定位"
    GEOCODED = "geocoded", "地理编码定位（待确认）"
    UNLOCATED = "unlocated", "未定位"


class CareHomeQuerySet(models.QuerySet):
    def operating(self):
        return self.filter(status=CareHomeStatus.OPERATING)

    def located(self):
        """Homes with a position (confirmed or geocoded): what maps, routes and distances can use."""
        return self.exclude(location=None)

    def in_subdistrict(self, subdistrict):
        return self.filter(subdistrict=subdistrict)


@tracked
class CareHome(models.Model):
    name = models.CharField("机构名称", max_length=100)
    credit_code = models.CharField("统一社会信用代码", max_length=18, unique=True, validators=[validate_credit_code])
    address = models.CharField("地址", max_length=200)
    location = models.PointField(
        "位置", srid=WGS84, null=True, blank=True, help_text="名单只有地址时为空（未定位），由区民政局在地图上标定"
    )
    location_status = models.CharField(
        "定位状态", max_length=10, choices=LocationStatus.choices, default=LocationStatus.CONFIRMED
    )
    geocode_level = models.CharField(
        "地理编码匹配级别", max_length=30, blank=True, help_text="地理编码服务给出的匹配级别，如“地名地址”“道路”"
    )
    location_source = models.CharField(
        "坐标来源坐标系",
        max_length=10,
        choices=CoordinateSystem.choices,
        default=CoordinateSystem.WGS84,
        help_text="录入时的坐标系；库内一律存 WGS84",
    )
    site_boundary = models.MultiPolygonField("院区范围", srid=WGS84, null=True, blank=True)
    subdistrict = models.ForeignKey(
        Subdistrict,
        verbose_name="所属街镇",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="care_homes",
        help_text="按位置自动判定",
    )
    beds = models.PositiveIntegerField("床位数", default=0)
    residents = models.PositiveIntegerField("在院老人数", default=0)
    residents_full_care = models.PositiveIntegerField("失能（全护理）老人数", default=0)
    ownership = models.CharField("性质", max_length=20, choices=Ownership.choices, default=Ownership.PRIVATE)
    operator = models.CharField("运营单位", max_length=100, blank=True)
    legal_representative = models.CharField("法定代表人", max_length=50, blank=True)
    fire_safety_owner = models.CharField("消防安全责任人", max_length=50, blank=True)
    fire_safety_owner_phone = models.CharField("责任人电话", max_length=30, blank=True)
    fire_safety_manager = models.CharField("消防安全管理人", max_length=50, blank=True)
    fire_safety_manager_phone = models.CharField("管理人电话", max_length=30, blank=True)
    commitment_on = models.DateField("公开承诺日期", null=True, blank=True, help_text="一承诺")
    safety_service = models.ForeignKey(
        SafetyServiceProvider,
        verbose_name="第三方安全服务机构",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="care_homes",
    )
    status = models.CharField("状态", max_length=12, choices=CareHomeStatus.choices, default=CareHomeStatus.OPERATING)
    is_demo = models.BooleanField("演示数据", default=False)
    created_at = models.DateTimeField("创建时间", auto_now_add=True)
    updated_at = models.DateTimeField("更新时间", auto_now=True)

    objects = CareHomeQuerySet.as_manager()

    class Meta:
        verbose_name = verbose_name_plural = "养老机构"
        ordering = ["subdistrict__code", "name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(location=None, location_status="unlocated")
                | (~Q(location=None) & ~Q(location_status="unlocated")),
                name="carehome_location_status_matches",
                violation_error_message="未定位的机构没有坐标，有坐标的机构不能标为未定位",
            ),
            models.CheckConstraint(
                condition=Q(residents_full_care__lte=models.F("residents")),
                name="carehome_full_care_within_residents",
                violation_error_message="失能老人数不能超过在院老人数",
            ),
        ]
        indexes = [models.Index(fields=["status"])]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        self.credit_code = normalise(self.credit_code)
        if self.residents_full_care > self.residents:
            raise ValidationError({"residents_full_care": "失能老人数不能超过在院老人数"})

    def save(self, *args, **kwargs) -> None:
        # The 街镇 is derived from the location, never typed in: recompute on every save.
        self.credit_code = normalise(self.credit_code)
        if self.location is not None:
            self.subdistrict = Subdistrict.objects.containing(self.location).first()
        if kwargs.get("update_fields") is not None:
            kwargs["update_fields"] = {*kwargs["update_fields"], "subdistrict"}
        super().save(*args, **kwargs)

    @property
    def lon(self) -> float | None:
        return self.location.x if self.location is not None else None

    @property
    def lat(self) -> float | None:
        return self.location.y if self.location is not None else None

    @property
    def is_located(self) -> bool:
        return self.location is not None


class Role(models.TextChoices):
    BUREAU = "bureau", "区民政局"
    FIRE_RESCUE = "fire_rescue", "消防救援"
    SUBDISTRICT = "subdistrict", "街镇"
    CARE_HOME = "care_home", "养老机构"
    THIRD_PARTY = "third_party", "第三方安全服务机构"


@tracked
class Profile(models.Model):
    """Who a user is in the campaign: a role and, for the scoped roles, the one 街镇/home/provider they belong to."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile")
    role = models.CharField("角色", max_length=20, choices=Role.choices)
    organisation = models.CharField("单位", max_length=100, blank=True)
    phone = models.CharField("电话", max_length=30, blank=True)
    subdistrict = models.ForeignKey(Subdistrict, verbose_name="街镇", null=True, blank=True, on_delete=models.PROTECT)
    care_home = models.ForeignKey(CareHome, verbose_name="养老机构", null=True, blank=True, on_delete=models.CASCADE)
    safety_service = models.ForeignKey(
        SafetyServiceProvider, verbose_name="第三方安全服务机构", null=True, blank=True, on_delete=models.CASCADE
    )

    class Meta:
        verbose_name = verbose_name_plural = "用户角色"
        constraints = [
            models.CheckConstraint(
                condition=~Q(role="subdistrict") | Q(subdistrict__isnull=False),
                name="profile_subdistrict_role_has_subdistrict",
                violation_error_message="街镇角色必须指定街镇",
            ),
            models.CheckConstraint(
                condition=~Q(role="care_home") | Q(care_home__isnull=False),
                name="profile_care_home_role_has_home",
                violation_error_message="养老机构角色必须指定机构",
            ),
            models.CheckConstraint(
                condition=~Q(role="third_party") | Q(safety_service__isnull=False),
                name="profile_third_party_role_has_provider",
                violation_error_message="第三方角色必须指定服务机构",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} ({self.get_role_display()})"


class TokenPurpose(models.TextChoices):
    API = "api", "接口调用（脚本、第三方系统）"
    GIS = "gis", "桌面 GIS（QGIS、ArcGIS、GDAL）"


@tracked(exclude=["key_hash", "password_fingerprint"])
class ApiToken(models.Model):
    """An access token for programs. Only its sha256 is stored (a dump or a database reader learns no token); it
    expires, can be revoked, and dies with a password change (it remembers a fingerprint of the password hash it was
    issued under). GIS tokens are given as the password of HTTP Basic, which is all QGIS 3.22 can send."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="用户", on_delete=models.CASCADE, related_name="api_tokens"
    )
    purpose = models.CharField("用途", max_length=10, choices=TokenPurpose.choices, default=TokenPurpose.API)
    name = models.CharField("名称", max_length=100, blank=True, help_text="如：科室 QGIS、消防物联网平台对接")
    prefix = models.CharField("前缀", max_length=12, help_text="令牌的前几位，用于辨认，不足以使用")
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    password_fingerprint = models.CharField(max_length=64, editable=False)
    created_at = models.DateTimeField("创建时间", auto_now_add=True)
    expires_at = models.DateTimeField("到期时间")
    last_used_at = models.DateTimeField("最近使用", null=True, blank=True)
    revoked_at = models.DateTimeField("吊销时间", null=True, blank=True)

    class Meta:
        verbose_name = verbose_name_plural = "访问令牌"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.prefix}… {self.get_purpose_display()}（{self.user}）"

    @property
    def is_active(self) -> bool:
        from django.utils import timezone

        return self.revoked_at is None and self.expires_at > timezone.now()
