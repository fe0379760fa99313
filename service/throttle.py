"""Login throttling shared by every instance through Redis.

Failed logins are counted per account (canonical email, hashed) and per client address in
fixed windows. When either count reaches its limit, logins for that account (or from that
address) get 429 with ``Retry-After`` until the window ends: throttling, never a permanent
lockout. A success clears the account's count; other accounts are never affected by it.

An attempt on an account is counted as a failure when it begins, in the same atomic step
as the check, and cleared when it succeeds: were it counted only after the password check,
a burst of concurrent guesses would all pass the check before the first failure was
recorded. The address count still grows only with failures, so many users behind one
address (a NAT, a load test) may log in concurrently.
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from service.errors import TooManyAttempts
from service.redis_errors import translate_redis_errors

# -> {seconds to wait (0 = allowed), failures on the account before this attempt}; an
# allowed attempt is counted on the account at once (ARGV[3] is the window).
CHECK_SCRIPT = """
local wait = 0
for i, key in ipairs(KEYS) do
  local count = tonumber(redis.call('GET', key) or '0')
  if count >= tonumber(ARGV[i]) then
    -- Rounded up, so Retry-After never sends a client back too early.
    local ttl = math.ceil(redis.call('PTTL', key) / 1000)
    if ttl < 1 then ttl = 1 end
    if ttl > wait then wait = ttl end
  end
end
local before = tonumber(redis.call('GET', KEYS[1]) or '0')
if wait == 0 and redis.call('INCR', KEYS[1]) == 1 then
  redis.call('EXPIRE', KEYS[1], ARGV[3])
end
return {wait, before}
"""

FAILURE_SCRIPT = """
if redis.call('INCR', KEYS[1]) == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return 1
"""


def client_address(peer: str, forwarded_for: Sequence[str], trusted_proxies: int) -> str:
    """The client's address, believing ``X-Forwarded-For`` only for ``trusted_proxies`` hops.

    Each trusted proxy appends the address it received the request from, so with N trusted
    hops the client is the N-th entry from the right. Entries that are not IP addresses,
    or a chain shorter than promised, fall back to the peer: a client can always write
    its own X-Forwarded-For, so only what trusted proxies appended counts.
    """
    if trusted_proxies <= 0 or not forwarded_for:
        return peer
    hops = [hop.strip() for header in forwarded_for for hop in header.split(",")]
    hops = [hop for hop in hops if hop]
    if len(hops) < trusted_proxies:
        return peer
    candidate = hops[-trusted_proxies]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return peer


def account_key(email_canonical: str) -> str:
    return hashlib.sha256(email_canonical.encode("utf-8")).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class Attempt:
    """One login attempt's throttling keys, and whether the account has failures counted."""

    keys: tuple[str, str]
    account_failures: int


class LoginThrottle:
    def __init__(
        self,
        redis: Redis,
        *,
        prefix: str,
        max_failures: int,
        max_failures_per_address: int,
        window: int,
    ) -> None:
        self._redis = redis
        self._prefix = prefix
        self._limits = (max_failures, max_failures_per_address)
        self._window = window
        self._check = redis.register_script(CHECK_SCRIPT)
        self._failure = redis.register_script(FAILURE_SCRIPT)

    async def begin(self, *, email_canonical: str, address: str) -> Attempt:
        """Raise :class:`TooManyAttempts` if this login must wait, else describe it."""
        keys = (
            f"{self._prefix}throttle:account:{account_key(email_canonical)}",
            f"{self._prefix}throttle:address:{address}",
        )
        with translate_redis_errors():
            result: Any = await self._check(keys=list(keys), args=[*self._limits, self._window])
        wait, account_failures = int(result[0]), int(result[1])
        if wait > 0:
            raise TooManyAttempts(retry_after=wait)
        return Attempt(keys=keys, account_failures=account_failures)

    async def failed(self, attempt: Attempt) -> None:
        """Count the failure on the address (the account counted it when it began)."""
        with translate_redis_errors():
            await self._failure(keys=[attempt.keys[1]], args=[self._window])

    async def succeeded(self, attempt: Attempt) -> None:
        with translate_redis_errors():
            await self._redis.delete(attempt.keys[0])
