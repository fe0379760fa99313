"""``python -m service revoke-devices EMAIL``: forget every device token of one account.

For an operator who learns an account is compromised: its device tokens stop exempting
anyone from the per-address lockout, and ``/auth/refresh`` stops handing them out. The
account is looked up in Postgres first, so a mistyped address is reported rather than
"revoking" the devices of an account that does not exist. Connects with
``DATABASE_URL``, ``REDIS_URL`` and ``AUTH_REDIS_PREFIX``, as the service does.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

import asyncpg
from redis.asyncio import Redis

from service.config import ServiceConfig
from service.emails import parse_email
from service.environment import settings_from_env
from service.errors import ConfigError, InvalidEmail, ServiceError
from service.throttle import revoke_devices

#: Seconds to wait for Postgres or Redis before giving up.
CONNECT_TIMEOUT = 10.0


class NoSuchAccount(ServiceError):
    """The address names no account."""


def _setting(settings: Mapping[str, object], name: str) -> str:
    value = settings.get(name)
    if value is None:
        value = ServiceConfig.__dataclass_fields__[name].default
    if not isinstance(value, str):
        raise ConfigError(f"no default for {name}")
    return value


async def revoke_account_devices(email: str, env: Mapping[str, str]) -> int:
    """Revoke every device of the account ``email`` names; returns how many.

    :class:`ConfigError` for an address that is not one, :class:`NoSuchAccount` when no
    account has it, :class:`ServiceError` when a store cannot be reached.
    """
    try:
        canonical = parse_email(email).canonical
    except InvalidEmail as exc:
        raise ConfigError(f"{email!r} is not an email address: {exc.message}") from None
    # Read once: the environment's settings include files (the signing key, the pepper).
    settings = settings_from_env(env)
    try:
        connection = await asyncpg.connect(
            _setting(settings, "database_url"), timeout=CONNECT_TIMEOUT
        )
    except (OSError, asyncpg.PostgresError) as exc:
        raise ServiceError(f"cannot reach Postgres: {exc}") from exc
    try:
        found = await connection.fetchval(
            "SELECT 1 FROM users WHERE email_canonical = $1", canonical
        )
    finally:
        await connection.close()
    if found is None:
        raise NoSuchAccount(f"no account has the address {email!r}")
    redis = Redis.from_url(
        _setting(settings, "redis_url"),
        socket_timeout=CONNECT_TIMEOUT,
        socket_connect_timeout=CONNECT_TIMEOUT,
    )
    try:
        return await revoke_devices(
            redis, prefix=_setting(settings, "redis_prefix"), email_canonical=canonical
        )
    finally:
        await redis.aclose()


def run(email: str, env: Mapping[str, str]) -> int:
    """The subcommand's body: the number of devices revoked."""
    return asyncio.run(revoke_account_devices(email, env))
