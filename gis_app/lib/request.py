"""Facts about the request that several parts need (login protection, the audit trail)."""

from django.conf import settings


def client_ip(request) -> str | None:
    """The client's address: the peer, or behind PROXY_COUNT trusted proxies the address the outermost of them saw.
    Only our own proxies' entries are trusted; a client can prepend anything it likes to X-Forwarded-For."""
    proxies = settings.PROXY_COUNT
    if proxies:
        forwarded = [a.strip() for a in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if a.strip()]
        if len(forwarded) >= proxies:
            return forwarded[-proxies]
    return request.META.get("REMOTE_ADDR")


def locked_out(request, credentials, *args, **kwargs):
    """django-axes' answer once a login is locked: our Chinese page, HTTP 429."""
    from django.shortcuts import render

    context = {"failure_limit": settings.AXES_FAILURE_LIMIT, "cooloff_minutes": settings.AXES_COOLOFF_MINUTES}
    return render(request, "registration/locked_out.html", context, status=429)
