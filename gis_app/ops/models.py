"""The audit trail. Row changes (before and after, who, from where) are recorded by PostgreSQL triggers through
django-pghistory on the tables that carry evidence and rights: the registry, the site-plan layers, hazards,
inspections, ratings, roles and scopes, users and API tokens. What is not a row change — logins, failed logins,
logouts, downloads and exports — is an AccessEvent, written by the audit middleware and the auth signals."""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import models

from gis_app.lib.history import tracked


class AccessAction(models.TextChoices):
    LOGIN = "login", "登录"
    LOGIN_FAILED = "login_failed", "登录失败"
    LOGOUT = "logout", "退出"
    DOWNLOAD = "download", "下载/导出"


class AccessEvent(models.Model):
    at = models.DateTimeField("时间", auto_now_add=True, db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="用户",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    username = models.CharField("用户名", max_length=150, blank=True, help_text="登录失败时填写的用户名")
    action = models.CharField("操作", max_length=20, choices=AccessAction.choices)
    ip = models.GenericIPAddressField("来源地址", null=True, blank=True)
    path = models.CharField("地址", max_length=500, blank=True)
    detail = models.CharField("说明", max_length=300, blank=True)

    class Meta:
        verbose_name = verbose_name_plural = "访问记录"
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["user", "at"], name="access_user_at_idx")]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.username or self.user} {self.get_action_display()}"


# Accounts: who may sign in and with which powers. The password hash is never copied into the history.
tracked(
    get_user_model(),
    fields=["username", "first_name", "last_name", "email", "is_active", "is_staff", "is_superuser"],
    app_label="ops",
)
