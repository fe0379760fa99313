"""Login and signup throttling shared by every instance through Redis.

Failed logins are counted in fixed windows per account (canonical email, hashed) and per
client address; when either count reaches its limit, logins for that account (or from
that address) get 429 with ``Retry-After`` until the window ends: throttling, never a
permanent lockout. A success clears the account's count.

A login presenting a valid device token for its account (see :mod:`service.devices`) is
trusted: it is counted and limited per device only, so neither a busy shared address nor
an attacker guessing the account's password can lock that device out. Addresses in
``AUTH_RATE_LIMIT_EXEMPT`` skip the per-address limits (of logins and of signups).

An attempt is accounted for when it begins, in the same atomic step as the check: were it
counted only after the password check, a burst of concurrent guesses would all pass the
check before the first failure was recorded. On the account (or the device) it counts as
a failure at once, and a success clears the count. On the address it is held "in flight"
while its password is checked, and becomes a failure only if it fails: an attempt that
finds failures and attempts in flight already at the address's limit waits (briefly, a
few milliseconds at a time) for those outcomes instead of being refused, so a burst of
guesses gets exactly the limit's worth of answers and then 429, while a crowd behind one
NAT logging in with the right passwords all get in.

Per-address counters key IPv4 clients by address (IPv4-mapped IPv6 peers included) and
IPv6 clients by /64 (see :func:`service.addresses.limit_key`).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from service import devices
from service.addresses import Network, in_networks, limit_key
from service.errors import TooManyAttempts, TooManyRequests, Unavailable
from service.pepper import Pepper
from service.redis_errors import translate_redis_errors
from service.throttle_scripts import (
    CHECK_SCRIPT,
    FAILED_SCRIPT,
    REVOKE_ALL_SCRIPT,
    SIGNUP_SCRIPT,
    SUCCESS_SCRIPT,
)

log = logging.getLogger("authscale.service")

#: Seconds an attempt counts as in flight at most (an instance that died mid-attempt).
IN_FLIGHT_TTL = 30
#: Seconds between checks while the address's attempts in flight fill its limit.
BUSY_POLL = 0.005
#: Seconds an attempt waits for those at most, then gets 429 (Retry-After: 1).
BUSY_PATIENCE = 5.0


def account_key(email_canonical: str) -> str:
    return hashlib.sha256(email_canonical.encode("utf-8")).hexdigest()[:32]


def devices_key(prefix: str, account: str) -> str:
    """The sorted set of an account's remembered devices (device id -> last login)."""
    return f"{prefix}devices:{account}"


async def revoke_devices(redis: Redis, *, prefix: str, email_canonical: str) -> int:
    """Forget every device of an account (their tokens count as none from now on);
    returns how many it had."""
    with translate_redis_errors():
        revoked: Any = await redis.eval(
            REVOKE_ALL_SCRIPT, 1, devices_key(prefix, account_key(email_canonical))
        )
    return int(revoked)


@dataclass(frozen=True, slots=True)
class Attempt:
    """One login attempt: its account, the counter it was counted on (account or device),
    the trusted device if any, and, when its address limits it, the address's failure
    counter and the set it is in flight in under ``attempt_id``."""

    account: str
    counted_key: str
    device_id: str | None
    address_key: str | None = None
    in_flight_key: str | None = None
    attempt_id: str = ""


class LoginThrottle:
    def __init__(
        self,
        redis: Redis,
        *,
        prefix: str,
        pepper: Pepper,
        max_failures: int,
        max_failures_per_address: int,
        max_failures_per_device: int,
        window: int,
        exempt: Sequence[Network] = (),
    ) -> None:
        self._redis = redis
        self._prefix = prefix
        self._pepper = pepper
        self._limits = (max_failures, max_failures_per_address, max_failures_per_device)
        self._window = window
        self._exempt = tuple(exempt)
        self._check = redis.register_script(CHECK_SCRIPT)
        self._success = redis.register_script(SUCCESS_SCRIPT)
        self._failed = redis.register_script(FAILED_SCRIPT)

    def exempt(self, address: str) -> bool:
        """Whether ``address`` skips the per-address limits."""
        return bool(self._exempt) and in_networks(address, self._exempt)

    def _in_flight_key(self, bucket: str) -> str:
        return f"{self._prefix}throttle:in-flight:{bucket}"

    async def begin(
        self, *, email_canonical: str, address: str, device_token: object = None
    ) -> Attempt:
        """Raise :class:`TooManyAttempts` if this login must wait, else describe it.

        ``device_token`` is whatever the client sent; only a valid one for this account
        changes anything.
        """
        account = account_key(email_canonical)
        device_id = devices.device_id_of(self._pepper, account, device_token)
        exempt = self.exempt(address)
        bucket = limit_key(address)
        keys = [
            f"{self._prefix}throttle:account:{account}",
            f"{self._prefix}throttle:address:{bucket}",
            f"{self._prefix}throttle:device:{device_id or ''}",
            devices_key(self._prefix, account),
            self._in_flight_key(bucket),
        ]
        attempt_id = secrets.token_hex(8)
        max_account, max_address, max_device = self._limits
        patience = time.monotonic() + BUSY_PATIENCE
        while True:
            with translate_redis_errors():
                result: Any = await self._check(
                    keys=keys,
                    args=[
                        max_account,
                        max_address,
                        self._window,
                        device_id or "",
                        max_device,
                        int(time.time()),
                        devices.DEVICE_TTL,
                        1 if exempt else 0,
                        attempt_id,
                        IN_FLIGHT_TTL,
                    ],
                )
            wait, trusted, busy = int(result[0]), int(result[1]) == 1, int(result[2]) == 1
            if wait > 0:
                raise TooManyAttempts(retry_after=wait)
            if not busy:
                break
            if time.monotonic() > patience:
                raise TooManyAttempts(retry_after=1)
            # The attempts in flight at this address end within about one verification.
            await asyncio.sleep(BUSY_POLL * (1 + random.random()))
        if trusted:
            return Attempt(account, keys[2], device_id)
        if exempt:
            return Attempt(account, keys[0], None)
        return Attempt(account, keys[0], None, keys[1], keys[4], attempt_id)

    async def failed(self, attempt: Attempt) -> None:
        """The attempt failed: it becomes a failure of its address (if it was in flight)."""
        if attempt.in_flight_key is None or attempt.address_key is None:
            return
        with translate_redis_errors():
            await self._failed(
                keys=[attempt.in_flight_key, attempt.address_key],
                args=[attempt.attempt_id, self._window],
            )

    async def abandon(self, attempt: Attempt) -> None:
        """The attempt ended without an answer (a store failed): it is no longer in flight."""
        if attempt.in_flight_key is None:
            return
        with translate_redis_errors():
            await self._redis.zrem(attempt.in_flight_key, attempt.attempt_id)

    async def succeeded(self, attempt: Attempt) -> str:
        """Give the attempt's count back and remember its device (a new one when the client
        presented none); returns the device id."""
        device_id = attempt.device_id or devices.new_device_id()
        with translate_redis_errors():
            await self._success(
                keys=[
                    attempt.counted_key,
                    devices_key(self._prefix, attempt.account),
                    attempt.in_flight_key or self._in_flight_key(""),
                ],
                args=[
                    device_id,
                    int(time.time()),
                    devices.DEVICE_TTL,
                    devices.MAX_DEVICES_PER_ACCOUNT,
                    attempt.attempt_id,
                ],
            )
        return device_id

    async def device_live(self, account: str, device_id: str) -> bool:
        """Whether ``device_id`` is a remembered (not revoked, not expired) device of
        ``account`` (an account key)."""
        with translate_redis_errors():
            seen: float | None = await self._redis.zscore(
                devices_key(self._prefix, account), device_id
            )
        return seen is not None and seen > time.time() - devices.DEVICE_TTL

    async def revoke_device(self, account: str, device_id: str) -> bool:
        """Forget one device of an account; False when it was not remembered."""
        with translate_redis_errors():
            removed: int = await self._redis.zrem(devices_key(self._prefix, account), device_id)
        return removed == 1


class SignupThrottle:
    """Signups per client address in fixed windows, checked before any hashing."""

    def __init__(
        self,
        redis: Redis,
        *,
        prefix: str,
        max_per_address: int,
        window: int,
        exempt: Sequence[Network] = (),
    ) -> None:
        self._prefix = prefix
        self._limit = max_per_address
        self._window = window
        self._exempt = tuple(exempt)
        self._script = redis.register_script(SIGNUP_SCRIPT)

    async def admit(self, address: str) -> None:
        """Count a signup from ``address``; :class:`TooManyRequests` over the limit.

        With Redis down the signup is admitted (and logged): signing up needs only
        Postgres, and the hashing it costs stays bounded by the hasher's own slots.
        """
        if self._exempt and in_networks(address, self._exempt):
            return
        try:
            with translate_redis_errors():
                wait: Any = await self._script(
                    keys=[f"{self._prefix}throttle:signup:{limit_key(address)}"],
                    args=[self._limit, self._window],
                )
        except Unavailable:
            log.warning("signup limit not checked: Redis is unavailable")
            return
        if int(wait) > 0:
            raise TooManyRequests(retry_after=int(wait))
