"""Issuing and checking API tokens (hashed at rest; see models.ApiToken)."""

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from .models import ApiToken, TokenPurpose

PREFIX = "bh_"


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def password_fingerprint(user) -> str:
    return hashlib.sha256(f"token-bound:{user.password}".encode()).hexdigest()


def issue(user, *, purpose: str = TokenPurpose.API, name: str = "", days: int | None = None) -> tuple[ApiToken, str]:
    """A new token; the key is returned once and never stored."""
    key = PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user,
        purpose=purpose,
        name=name[:100],
        prefix=key[:10],
        key_hash=_hash(key),
        password_fingerprint=password_fingerprint(user),
        expires_at=timezone.now() + timedelta(days=days or settings.API_TOKEN_DAYS),
    )
    return token, key


def check(key: str, *, purposes: tuple[str, ...] | None = None):
    """The user the key belongs to, or None: unknown, revoked, expired, issued before a password change, wrong purpose,
    or an inactive user."""
    if not key or len(key) > 200:
        return None
    token = ApiToken.objects.select_related("user__profile").filter(key_hash=_hash(key)).first()
    if token is None or not token.is_active or not token.user.is_active:
        return None
    if purposes and token.purpose not in purposes:
        return None
    if not secrets.compare_digest(token.password_fingerprint, password_fingerprint(token.user)):
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=5):  # not a write per request
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user


def revoke(token: ApiToken) -> None:
    ApiToken.objects.filter(pk=token.pk, revoked_at=None).update(revoked_at=timezone.now())
