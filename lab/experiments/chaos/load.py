"""The auth scenario as a chaos client: every request's outcome kept for the verdicts.

Each virtual user repeats signup → login → refresh → logout with a fresh address
``chaos-<run id>-<vu>-<n>@example.com``, like the load generator, but keeps what the
fault scenarios are judged on: every request (step, start and end on the event-loop
clock, status or 0 for no answer, the error ``code``, ``Retry-After``), every signup
address with the status it got, and the session ids that logout (204) ended. Every
``reuse_every``-th iteration presents the rotated refresh token again instead of logging
out, expecting ``401 token_reused``, and counts that session as revoked.

A failed iteration ends there; when the answer carried ``Retry-After`` the user waits a
random part of it before the next one, as a polite client does under overload.
"""

from __future__ import annotations

import asyncio
import random
import secrets
import time
from collections import Counter
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from lab.harness.authclient import (
    LOGIN,
    LOGOUT,
    REFRESH,
    SIGNUP,
    AuthAnswer,
    AuthClient,
)
from loadgen.scenario import Tokens

#: The chaos client's own step: a rotated refresh token presented again (to /auth/refresh).
REUSE = "reuse"
EXPECTED = {SIGNUP: 201, LOGIN: 200, REFRESH: 200, REUSE: 401, LOGOUT: 204}
#: Steps that need Redis (sessions or the login throttle); signup needs only PostgreSQL.
NEEDS_REDIS = frozenset({LOGIN, REFRESH, REUSE, LOGOUT})
NEEDS_POSTGRES = frozenset({SIGNUP, LOGIN})
MAX_BACKOFF_S = 2.0


@dataclass(frozen=True, kw_only=True)
class ChaosLoadConfig:
    target: str
    vus: int
    #: How long the users keep starting iterations, unless stopped earlier.
    duration_s: float
    request_timeout_s: float = 15.0
    run_id: str = field(default_factory=lambda: f"{int(time.time())}{secrets.token_hex(3)}")
    domain: str = "example.com"
    reuse_every: int = 10

    def __post_init__(self) -> None:
        if not self.target.startswith("http://"):
            raise ValueError("target must be an http:// URL")
        if self.vus < 1:
            raise ValueError("vus must be at least 1")
        if self.duration_s <= 0 or self.request_timeout_s <= 0:
            raise ValueError("duration and request timeout must be positive")
        if self.reuse_every < 0:
            raise ValueError("reuse_every must not be negative (0 = never)")

    @property
    def address_prefix(self) -> str:
        return f"chaos-{self.run_id}-"


@dataclass(frozen=True, slots=True)
class RequestOutcome:
    """One request. Times are seconds on the event-loop clock (``loop.time()``)."""

    step: str
    started: float
    ended: float
    status: int
    code: str = ""
    retry_after: str | None = None

    @property
    def ok(self) -> bool:
        if self.status != EXPECTED[self.step] or self.code == "bad_body":
            return False
        return self.step != REUSE or self.code == "token_reused"

    @property
    def elapsed(self) -> float:
        return self.ended - self.started

    @property
    def label(self) -> str:
        """``502 upstream_reset``, ``0 no answer`` …, for counting failures."""
        if self.status == 0:
            return f"0 {self.code or 'no answer'}"
        return f"{self.status} {self.code}".rstrip()


@dataclass
class ChaosRecord:
    """Everything a chaos run observed."""

    outcomes: list[RequestOutcome] = field(default_factory=list)
    signups: dict[str, int] = field(default_factory=dict)
    logged_out: list[str] = field(default_factory=list)
    revoked: list[str] = field(default_factory=list)
    iterations: int = 0
    iterations_ok: int = 0
    started_at: float = 0.0
    ended_at: float = 0.0

    def failures(self) -> list[RequestOutcome]:
        return [outcome for outcome in self.outcomes if not outcome.ok]

    def failures_by_status(self) -> dict[str, int]:
        return dict(sorted(Counter(outcome.label for outcome in self.failures()).items()))

    def ended_sessions(self) -> list[str]:
        return [*self.logged_out, *self.revoked]

    def to_dict(self) -> dict[str, Any]:
        return {
            "requests": len(self.outcomes),
            "iterations": self.iterations,
            "iterations_ok": self.iterations_ok,
            "failed": len(self.failures()),
            "failed_by_status": self.failures_by_status(),
            "logged_out": len(self.logged_out),
            "revoked": len(self.revoked),
        }


def session_id(refresh_token: str) -> str:
    """The session id a refresh token ``<sid>.<secret>`` names."""
    return refresh_token.partition(".")[0]


def backoff_s(retry_after: str | None, rng: random.Random) -> float:
    """A random part of ``Retry-After`` (seconds form), capped; 0 without one."""
    if retry_after is None or not retry_after.strip().isdigit():
        return 0.0
    return min(float(retry_after), MAX_BACKOFF_S) * rng.uniform(0.5, 1.0)


class ChaosClient:
    """Runs the users against one target and fills a :class:`ChaosRecord`."""

    def __init__(self, config: ChaosLoadConfig, record: ChaosRecord | None = None) -> None:
        self.config = config
        self.record = record or ChaosRecord()
        self.stop = asyncio.Event()
        self._rng = random.Random()

    async def run(self) -> ChaosRecord:
        """Run until ``duration_s`` has passed or :attr:`stop` is set; in-flight
        iterations finish (each request is bounded by the request timeout)."""
        config = self.config
        loop = asyncio.get_running_loop()
        record = self.record
        record.started_at = loop.time()
        connector = aiohttp.TCPConnector(limit=0, keepalive_timeout=30.0)
        timeout = aiohttp.ClientTimeout(total=config.request_timeout_s)
        async with aiohttp.ClientSession(
            connector=connector, timeout=timeout, cookie_jar=aiohttp.DummyCookieJar()
        ) as session:
            client = AuthClient(session, config.target)
            users = [loop.create_task(self._user(client, vu)) for vu in range(config.vus)]
            try:
                async with asyncio.timeout(config.duration_s):
                    await self.stop.wait()
            except TimeoutError:
                pass
            self.stop.set()
            # An iteration has at most four requests, each bounded by the request timeout.
            _, pending = await asyncio.wait(users, timeout=4 * config.request_timeout_s + 1)
            for task in pending:
                task.cancel()
            await asyncio.gather(*users, return_exceptions=True)
        record.ended_at = loop.time()
        return record

    async def _user(self, client: AuthClient, vu: int) -> None:
        # Spread the first requests over 100 ms instead of one burst.
        await asyncio.sleep(self._rng.uniform(0, 0.1))
        n = 0
        while not self.stop.is_set():
            n += 1
            email = f"{self.config.address_prefix}{vu}-{n}@{self.config.domain}"
            last = await self._iteration(client, email, reuse=self._reuses(n))
            self.record.iterations += 1
            if last.ok:
                self.record.iterations_ok += 1
            else:
                pause = backoff_s(last.retry_after, self._rng)
                if pause:
                    await asyncio.sleep(pause)

    def _reuses(self, n: int) -> bool:
        every = self.config.reuse_every
        return every > 0 and n % every == 0

    async def _iteration(self, client: AuthClient, email: str, *, reuse: bool) -> RequestOutcome:
        record = self.record
        password = secrets.token_urlsafe(12)
        outcome, _ = await self._timed(SIGNUP, client.signup(email, password))
        record.signups[email] = outcome.status
        if not outcome.ok:
            return outcome
        outcome, tokens = await self._timed(LOGIN, client.login(email, password))
        if not outcome.ok or tokens is None:
            return outcome
        outcome, fresh = await self._timed(REFRESH, client.refresh(tokens.refresh_token))
        if not outcome.ok or fresh is None:
            return outcome
        if reuse:
            outcome, _ = await self._timed(REUSE, client.refresh(tokens.refresh_token))
            if outcome.ok:
                record.revoked.append(session_id(tokens.refresh_token))
            return outcome
        outcome, _ = await self._timed(LOGOUT, client.logout(fresh))
        if outcome.ok:
            record.logged_out.append(session_id(fresh.refresh_token))
        return outcome

    async def _timed(
        self, step: str, request: Awaitable[AuthAnswer]
    ) -> tuple[RequestOutcome, Tokens | None]:
        """Await one request, keep its :class:`RequestOutcome`, and the tokens a login or refresh
        answered (an answer without them is a failure: ``bad_body``)."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        try:
            answer = await request
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            code = "timeout" if isinstance(exc, TimeoutError) else type(exc).__name__
            outcome = RequestOutcome(step, started, loop.time(), 0, code)
            self.record.outcomes.append(outcome)
            return outcome, None
        status, retry_after = answer.status, answer.retry_after
        code = answer.error_code() if status >= 400 else ""
        outcome = RequestOutcome(step, started, loop.time(), status, code, retry_after)
        tokens: Tokens | None = None
        if outcome.ok and step in (LOGIN, REFRESH):
            tokens = answer.tokens()
            if tokens is None:
                outcome = RequestOutcome(
                    step, started, outcome.ended, status, "bad_body", retry_after
                )
        self.record.outcomes.append(outcome)
        return outcome, tokens


async def run(config: ChaosLoadConfig) -> ChaosRecord:
    """Run the users for ``duration_s`` and return what they observed."""
    return await ChaosClient(config).run()
