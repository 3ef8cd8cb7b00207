"""Tiny typed readers of the environment that refuse bad values at start-up."""

import os
import secrets
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlparse

from django.core.exceptions import ImproperlyConfigured


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in {"1", "true", "yes", "on"}:
        return True
    if raw.lower() in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (true/false), got {raw!r}")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, got {raw!r}") from None


def env_choice(name: str, default: str, choices: set[str]) -> str:
    raw = os.environ.get(name) or default
    if raw not in choices:
        raise ImproperlyConfigured(f"{name} must be one of {sorted(choices)}, got {raw!r}")
    return raw


def database_from_url(url: str) -> dict:
    """postgres://user:pass@host:port/name?sslmode=require -> a Django DATABASES entry (PostGIS)."""
    parsed = urlparse(url)
    if parsed.scheme not in {"postgres", "postgresql", "postgis"}:
        raise ImproperlyConfigured(f"DATABASE_URL must be a postgres:// URL, got scheme {parsed.scheme!r}")
    name = unquote(parsed.path.lstrip("/"))
    if not name:
        raise ImproperlyConfigured("DATABASE_URL has no database name")
    return {
        "ENGINE": "django.contrib.gis.db.backends.postgis",
        "NAME": name,
        "USER": unquote(parsed.username or ""),
        "PASSWORD": unquote(parsed.password or ""),
        "HOST": parsed.hostname or "",
        "PORT": str(parsed.port or ""),
        "OPTIONS": _connection_options(parsed.query),
        "CONN_MAX_AGE": 60,
        "CONN_HEALTH_CHECKS": True,
    }


# PostgreSQL's JIT compiles a query's expressions when its estimated cost is high: on this platform's aggregates it
# cost 10-300 ms per query and saved nothing (the hexagon grid of the national benchmark: 300 ms with, 14 ms without),
# as commonly for web workloads. Off for the platform's connections unless the URL says otherwise: `?options=` (empty)
# sends no options (a pgbouncer that refuses them), `?options=-c jit=on` keeps it.
DEFAULT_PG_OPTIONS = "-c jit=off"


def _connection_options(query: str) -> dict:
    options = dict(parse_qsl(query, keep_blank_values=True))
    options.setdefault("options", DEFAULT_PG_OPTIONS)
    if not options["options"]:
        del options["options"]
    return options


def persistent_secret_key(path: Path) -> str:
    """A random key generated once and kept (mode 0600) where the platform keeps its data, so sessions survive
    restarts and every process of one installation signs alike. Several machines must share DJANGO_SECRET_KEY."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(64))
        try:
            os.link(tmp, path)  # atomic: of processes starting together, the first one's key wins
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    key = path.read_text().strip()
    if len(key) < 50:
        raise ImproperlyConfigured(f"{path} holds no usable secret key: remove it to have a new one generated")
    return key
