"""Who did what, when, from where: the request's user, address and path go into pghistory's context (so every row
change a request causes carries them), and downloads are recorded as access events."""

import pghistory.middleware
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from gis_app.lib.request import client_ip

from .models import AccessAction, AccessEvent


class AuditMiddleware(pghistory.middleware.HistoryMiddleware):
    def get_context(self, request) -> dict:
        return {**super().get_context(request), "ip": client_ip(request), "method": request.method}

    def __call__(self, request):
        response = super().__call__(request)
        disposition = response.get("Content-Disposition", "")
        if response.status_code == 200 and disposition.startswith("attachment"):
            _record(request, getattr(request, "user", None), AccessAction.DOWNLOAD, detail=disposition)
        return response


@receiver(user_logged_in, dispatch_uid="ops.audit.login")
def _logged_in(sender, request, user, **kwargs):
    _record(request, user, AccessAction.LOGIN)


@receiver(user_logged_out, dispatch_uid="ops.audit.logout")
def _logged_out(sender, request, user, **kwargs):
    _record(request, user, AccessAction.LOGOUT)


@receiver(user_login_failed, dispatch_uid="ops.audit.login_failed")
def _login_failed(sender, credentials, request=None, **kwargs):
    _record(request, None, AccessAction.LOGIN_FAILED, username=str(credentials.get("username", ""))[:150])


def _record(request, user, action: str, *, username: str = "", detail: str = "") -> None:
    signed_in = user is not None and getattr(user, "is_authenticated", False)
    AccessEvent.objects.create(
        user=user if signed_in else None,
        username=username or (user.get_username() if signed_in else ""),
        action=action,
        ip=client_ip(request) if request is not None else None,
        path=request.get_full_path()[:500] if request is not None else "",
        detail=detail[:300],
    )
