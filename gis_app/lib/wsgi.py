"""What the WSGI fast paths (gis_app.alarms.fast, layers.fast) check before Django would: the host against
ALLOWED_HOSTS, and whether the request came over https (directly or as the proxy says)."""

from django.conf import settings
from django.http.request import split_domain_port, validate_host


def host(environ) -> str:
    return environ.get("HTTP_HOST") or environ.get("SERVER_NAME", "")


def host_allowed(environ) -> bool:
    domain, _ = split_domain_port(host(environ))
    return bool(domain) and validate_host(domain, settings.ALLOWED_HOSTS)


def secure(environ) -> bool:
    header = settings.SECURE_PROXY_SSL_HEADER
    if header:
        name, value = header
        return environ.get(name, "").split(",")[0].strip() == value
    return environ.get("wsgi.url_scheme") == "https"
