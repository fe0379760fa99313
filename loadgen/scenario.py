"""The auth scenario: a fresh user per iteration, signup -> login -> refresh -> logout.

The response checks are pure functions (:func:`check_response`); :class:`AuthScenario` is the
thin asyncio shell that sends the requests, times them with ``perf_counter_ns`` and hands
the figures to the :class:`~loadgen.stats.Recorder`.

Every user is unique across processes and repeated runs:
``lg-<run id>-<process>-<vu>-<iteration>@<domain>``, where the run id combines the start time
with 40 random bits. Passwords are 16 random URL-safe characters.

In the open model each iteration has an intended start. The intended start of step k is the
intended start of step k-1 plus that step's service time and the think time, so a delay in
getting a request out (no free VU, a busy event loop) is carried into every later step's
corrected latency instead of being forgotten.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from time import perf_counter_ns
from typing import Any

import aiohttp
import orjson
from yarl import URL

from loadgen import failures
from loadgen.client import CURRENT_TIMER, ConnectTimer
from loadgen.config import LoadConfig
from loadgen.stats import Recorder

SIGNUP, LOGIN, REFRESH, LOGOUT = "signup", "login", "refresh", "logout"

EXPECTED_STATUS = {SIGNUP: 201, LOGIN: 200, REFRESH: 200, LOGOUT: 204}
STATUS_CHECKS = {step: f"{step} status is {status}" for step, status in EXPECTED_STATUS.items()}
BODY_CHECKS = {
    SIGNUP: "signup returned the user id",
    LOGIN: "login returned tokens",
    REFRESH: "refresh returned new tokens",
}

_JSON_HEADERS = {"Content-Type": "application/json"}
SERVER_TIMING = "Server-Timing"
_REQUEST_HEADER_BYTES = len(
    "HTTP/1.1\r\nContent-Type: application/json\r\nAccept: */*\r\n"
    "Accept-Encoding: gzip, deflate\r\nUser-Agent: Python/3.11 aiohttp/3.14\r\n"
    "Content-Length: 00\r\n\r\n"
)
_STATUS_LINE_BYTES = len("HTTP/1.1 200 OK\r\n\r\n")


@dataclass(frozen=True, slots=True)
class Tokens:
    access_token: str
    refresh_token: str


def check_response(
    step: str, status: int, payload: bytes, previous: Tokens | None = None
) -> tuple[bool, bool, Any]:
    """(status ok, body ok, what the next step needs) for one response.

    The body is only judged when the status is right; signup yields the user id, login and
    refresh yield :class:`Tokens`; a refresh must rotate the ``previous`` refresh token.
    """
    if status != EXPECTED_STATUS[step]:
        return False, False, None
    if step == LOGOUT:
        return True, True, None
    try:
        body = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return True, False, None
    if not isinstance(body, dict):
        return True, False, None
    if step == SIGNUP:
        user_id = body.get("id")
        return True, user_id is not None and user_id != "", user_id
    access, refresh = body.get("access_token"), body.get("refresh_token")
    if not (isinstance(access, str) and isinstance(refresh, str) and access and refresh):
        return True, False, None
    if previous is not None and refresh == previous.refresh_token:
        return True, False, None
    return True, True, Tokens(access, refresh)


class VU:
    """A virtual user: an id, its iteration count and its connect timer."""

    __slots__ = ("id", "iterations", "retired", "timer")

    def __init__(self, vu_id: int) -> None:
        self.id = vu_id
        self.iterations = 0
        self.retired = False
        self.timer = ConnectTimer()

    def __repr__(self) -> str:
        return f"VU(id={self.id}, iterations={self.iterations})"


class AuthScenario:
    """Runs iterations of the auth flow on one shared session."""

    def __init__(
        self, session: aiohttp.ClientSession, config: LoadConfig, recorder: Recorder
    ) -> None:
        self._session = session
        self._recorder = recorder
        base = URL(config.target)
        self._urls = {step: base / "auth" / step for step in EXPECTED_STATUS}
        host_bytes = len(f"POST  Host: {base.host}:{base.port}\r\n")
        self._sent_overhead = {
            step: _REQUEST_HEADER_BYTES + host_bytes + len(url.path)
            for step, url in self._urls.items()
        }
        self._user_prefix = f"lg-{config.run_id}-{config.process_index}-"
        self._domain = config.email_domain
        self._think_s = config.think_time_s

    def email_for(self, vu: VU) -> str:
        return f"{self._user_prefix}{vu.id}-{vu.iterations}@{self._domain}"

    async def run_iteration(self, vu: VU, t_intended: int = 0) -> bool:
        """One full flow; False when a step failed. ``t_intended`` is 0 in the closed model."""
        recorder = self._recorder
        recorder.begin_iteration()
        CURRENT_TIMER.set(vu.timer)
        vu.iterations += 1
        t_start = perf_counter_ns()
        email = self.email_for(vu)
        credentials = orjson.dumps({"email": email, "password": secrets.token_urlsafe(12)})
        ok = await self._flow(vu, credentials, t_intended)
        recorder.end_iteration(vu.id, t_start, perf_counter_ns(), t_intended, not ok)
        return ok

    async def _flow(self, vu: VU, credentials: bytes, intended: int) -> bool:
        status, payload, intended = await self._request(
            vu, SIGNUP, credentials, _JSON_HEADERS, intended
        )
        if not self._check(SIGNUP, status, payload)[0]:
            return False
        status, payload, intended = await self._pause_then(
            vu, LOGIN, credentials, _JSON_HEADERS, intended
        )
        ok, tokens = self._check(LOGIN, status, payload)
        if not ok:
            return False
        body = orjson.dumps({"refresh_token": tokens.refresh_token})
        status, payload, intended = await self._pause_then(
            vu, REFRESH, body, _JSON_HEADERS, intended
        )
        ok, fresh = self._check(REFRESH, status, payload, tokens)
        if not ok:
            return False
        headers = {
            "Content-Type": "application/json",
            "Authorization": f"Bearer {fresh.access_token}",
        }
        body = orjson.dumps({"refresh_token": fresh.refresh_token})
        status, payload, intended = await self._pause_then(vu, LOGOUT, body, headers, intended)
        return self._check(LOGOUT, status, payload)[0]

    def _check(
        self, step: str, status: int, payload: bytes, previous: Tokens | None = None
    ) -> tuple[bool, Any]:
        status_ok, body_ok, value = check_response(step, status, payload, previous)
        recorder = self._recorder
        recorder.check(STATUS_CHECKS[step], status_ok)
        if step in BODY_CHECKS and status_ok:
            recorder.check(BODY_CHECKS[step], body_ok)
        return status_ok and body_ok, value

    async def _pause_then(
        self, vu: VU, step: str, body: bytes, headers: Mapping[str, str], intended: int
    ) -> tuple[int, bytes, int]:
        if self._think_s:
            await asyncio.sleep(self._think_s)
            if intended:
                intended += int(self._think_s * 1e9)
        return await self._request(vu, step, body, headers, intended)

    async def _request(
        self, vu: VU, step: str, body: bytes, headers: Mapping[str, str], intended: int
    ) -> tuple[int, bytes, int]:
        """Send one request; returns (status or 0 on a transport error, body, next intended)."""
        timer = vu.timer
        timer.connect_ns = 0
        server_timing = None
        sent = self._sent_overhead[step] + len(body)
        t_send = perf_counter_ns()
        try:
            response = await self._session.post(self._urls[step], data=body, headers=headers)
            t_head = perf_counter_ns()
            payload = await response.read()
            t_end = perf_counter_ns()
            status = response.status
            received = _STATUS_LINE_BYTES + len(payload)
            for name, value in response.raw_headers:
                received += len(name) + len(value) + 4
            timings = response.headers.getall(SERVER_TIMING, None)
            if timings is not None:
                # One header line normally; a proxy may add its entries as a second line.
                server_timing = timings[0] if len(timings) == 1 else ", ".join(timings)
            response.release()
            cause = failures.status_cause(status)
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            t_end = t_head = perf_counter_ns()
            status, payload, received = 0, b"", 0
            server_timing = None
            cause = failures.transport_cause(exc)
            if failures.never_sent(exc):
                sent = 0
        connect_ns = timer.connect_ns
        self._recorder.record_request(
            self._recorder.steps[step],
            t_send,
            t_head,
            t_end,
            intended,
            connect_ns,
            cause is None,
            sent,
            received,
            server_timing,
            cause,
        )
        if intended:
            intended += t_end - t_send
        return status, payload, intended
