"""The service's settings as the environment gives them: each variable read and typed, an
unset or empty one left out, a malformed one a :class:`ConfigError` that names it.

The variables and their defaults are listed in :mod:`service.config`, which merges these
settings under the command line's and validates the result.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from service.errors import ConfigError


def _text(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name)
    return value if value else None


def _int(env: Mapping[str, str], name: str) -> int | None:
    value = _text(env, name)
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {value!r}") from None


def _float(env: Mapping[str, str], name: str) -> float | None:
    value = _text(env, name)
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {value!r}") from None


def _bool(env: Mapping[str, str], name: str) -> bool | None:
    value = _text(env, name)
    if value is None:
        return None
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name} must be 1/0, true/false, yes/no or on/off, got {value!r}")


def _file(env: Mapping[str, str], name: str) -> bytes | None:
    path = _text(env, name)
    if path is None:
        return None
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError(f"{name}: cannot read {path}: {exc.strerror}") from exc


def _list(env: Mapping[str, str], name: str) -> tuple[str, ...] | None:
    value = _text(env, name)
    if value is None:
        return None
    return tuple(item for item in (part.strip() for part in value.split(",")) if item)


def _secret_file(env: Mapping[str, str], name: str) -> bytes | None:
    # A trailing newline (``echo``, ``openssl rand -hex 32 > file``) is not part of a secret.
    content = _file(env, name)
    return None if content is None else content.rstrip(b"\r\n")


def settings_from_env(env: Mapping[str, str]) -> dict[str, Any]:
    """The configuration fields the environment sets (unset variables are left out)."""
    secret = _text(env, "AUTH_JWT_SECRET")
    found: dict[str, Any] = {
        "instance_id": _text(env, "AUTH_INSTANCE_ID"),
        "dev": _bool(env, "AUTH_DEV"),
        "database_url": _text(env, "DATABASE_URL"),
        "redis_url": _text(env, "REDIS_URL"),
        "redis_prefix": _text(env, "AUTH_REDIS_PREFIX"),
        "jwt_algorithm": _text(env, "AUTH_JWT_ALG"),
        "jwt_private_key_pem": _file(env, "AUTH_JWT_PRIVATE_KEY_FILE"),
        "jwt_previous_public_key_pem": _file(env, "AUTH_JWT_PREVIOUS_PUBLIC_KEY_FILE"),
        "jwt_secret": secret.encode("utf-8") if secret else None,
        "jwt_issuer": _text(env, "AUTH_JWT_ISSUER"),
        "jwt_audience": _text(env, "AUTH_JWT_AUDIENCE"),
        "jwt_leeway": _int(env, "AUTH_JWT_LEEWAY"),
        "access_ttl": _int(env, "AUTH_ACCESS_TTL"),
        "refresh_ttl": _int(env, "AUTH_REFRESH_TTL"),
        "bcrypt_rounds": _int(env, "AUTH_BCRYPT_ROUNDS"),
        "bcrypt_threads": _int(env, "AUTH_BCRYPT_THREADS"),
        "trusted_proxies": _int(env, "AUTH_TRUSTED_PROXIES"),
        "trusted_proxy_addrs": _list(env, "AUTH_TRUSTED_PROXY_ADDRS"),
        "rate_limit_exempt": _list(env, "AUTH_RATE_LIMIT_EXEMPT"),
        "token_pepper": _secret_file(env, "AUTH_TOKEN_PEPPER_FILE"),
        "session_max_age": _int(env, "AUTH_SESSION_MAX_AGE"),
        "max_sessions_per_user": _int(env, "AUTH_MAX_SESSIONS_PER_USER"),
        "metrics_listen": _text(env, "AUTH_METRICS_LISTEN"),
        "db_pool_min": _int(env, "AUTH_DB_POOL_MIN"),
        "db_pool_max": _int(env, "AUTH_DB_POOL_MAX"),
        "io_timeout": _float(env, "AUTH_IO_TIMEOUT"),
        "startup_timeout": _float(env, "AUTH_STARTUP_TIMEOUT"),
        "shutdown_delay": _float(env, "AUTH_SHUTDOWN_DELAY"),
        "login_max_failures": _int(env, "AUTH_LOGIN_MAX_FAILURES"),
        "login_max_failures_per_address": _int(env, "AUTH_LOGIN_MAX_FAILURES_PER_ADDRESS"),
        "login_window": _int(env, "AUTH_LOGIN_WINDOW"),
        "login_max_failures_per_device": _int(env, "AUTH_LOGIN_MAX_FAILURES_PER_DEVICE"),
        "signup_max_per_address": _int(env, "AUTH_SIGNUP_MAX_PER_ADDRESS"),
        "signup_window": _int(env, "AUTH_SIGNUP_WINDOW"),
        "log_format": _text(env, "AUTH_LOG_FORMAT"),
        "access_log": _bool(env, "AUTH_ACCESS_LOG"),
        "server_timing": _bool(env, "AUTH_SERVER_TIMING"),
        "otlp_endpoint": _text(env, "OTEL_EXPORTER_OTLP_ENDPOINT"),
    }
    return {key: value for key, value in found.items() if value is not None}
