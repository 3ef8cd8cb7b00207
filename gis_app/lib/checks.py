"""Deployment checks of our own, run by `manage.py check --deploy`."""

from django.conf import settings
from django.core.checks import Tags, Warning, register


@register(Tags.security, deploy=True)
def plain_http_opt_out(app_configs, **kwargs):
    if getattr(settings, "INSECURE_HTTP", False):
        return [
            Warning(
                "DJANGO_INSECURE_HTTP is on: cookies are sent and pages served over plain http, without HSTS.",
                hint="Only for a closed intranet or 127.0.0.1. Put the platform behind TLS and unset it.",
                id="gis_app.W001",
            )
        ]
    return []
