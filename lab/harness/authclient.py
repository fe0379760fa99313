"""The lab's client of the service's auth API: signup, login, refresh and logout.

Each call sends one POST on a caller's :class:`aiohttp.ClientSession` (whose connector and
timeouts the caller chooses) and returns the :class:`AuthAnswer` as it came: status, body and
``Retry-After``; what counts as success is the caller's judgement. Network errors and
timeouts propagate. :func:`open_session` and :func:`open_sessions` sign up and log in users
that an experiment needs before it measures.

The step names are the load generator's (:data:`loadgen.stats.STEPS`), so a figure named
after a step means the same thing in loadgen's output and the lab's.
"""

from __future__ import annotations

from dataclasses import dataclass

import aiohttp
import orjson

from lab.errors import LabError
from loadgen.scenario import Tokens
from loadgen.stats import STEPS

SIGNUP, LOGIN, REFRESH, LOGOUT = STEPS
JSON_HEADERS = {"Content-Type": "application/json"}


class AuthRefused(LabError):
    """A step a set-up needed did not get the answer it needs (the message names both)."""

    def __init__(self, step: str, status: int) -> None:
        super().__init__(f"{step} answered {status}")
        self.step = step
        self.status = status


def error_code(payload: bytes) -> str:
    """The ``error.code`` of the service's JSON error body, or "" when there is none."""
    try:
        body = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return ""
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        code = body["error"].get("code")
        return code if isinstance(code, str) else ""
    return ""


def tokens_in(payload: bytes) -> Tokens | None:
    """The access and refresh tokens of a login or refresh answer, None when absent."""
    try:
        body = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(body, dict):
        return None
    access, refresh = body.get("access_token"), body.get("refresh_token")
    if isinstance(access, str) and isinstance(refresh, str):
        return Tokens(access, refresh)
    return None


@dataclass(frozen=True, slots=True)
class AuthAnswer:
    status: int
    body: bytes
    retry_after: str | None = None

    def error_code(self) -> str:
        return error_code(self.body)

    def tokens(self) -> Tokens | None:
        return tokens_in(self.body)


def credentials(email: str, password: str) -> bytes:
    return orjson.dumps({"email": email, "password": password})


class AuthClient:
    """The auth API of the service (or balancer) at ``target``."""

    def __init__(self, session: aiohttp.ClientSession, target: str) -> None:
        self.session = session
        self.base = target.rstrip("/")

    async def post(
        self, step: str, body: bytes, headers: dict[str, str] = JSON_HEADERS
    ) -> AuthAnswer:
        """POST ``body`` to the step's route; the answer is read whole."""
        url = f"{self.base}/auth/{step}"
        async with self.session.post(url, data=body, headers=headers) as reply:
            payload = await reply.read()
            return AuthAnswer(reply.status, payload, reply.headers.get("Retry-After"))

    async def signup(self, email: str, password: str) -> AuthAnswer:
        return await self.post(SIGNUP, credentials(email, password))

    async def login(self, email: str, password: str) -> AuthAnswer:
        return await self.post(LOGIN, credentials(email, password))

    async def refresh(self, refresh_token: str) -> AuthAnswer:
        return await self.post(REFRESH, orjson.dumps({"refresh_token": refresh_token}))

    async def logout(self, tokens: Tokens) -> AuthAnswer:
        headers = {**JSON_HEADERS, "Authorization": f"Bearer {tokens.access_token}"}
        body = orjson.dumps({"refresh_token": tokens.refresh_token})
        return await self.post(LOGOUT, body, headers)


async def open_session(client: AuthClient, email: str, password: str) -> Tokens:
    """Sign up (201) and log in (200) a new user; :class:`AuthRefused` otherwise."""
    answer = await client.signup(email, password)
    if answer.status != 201:
        raise AuthRefused(SIGNUP, answer.status)
    answer = await client.login(email, password)
    tokens = answer.tokens() if answer.status == 200 else None
    if tokens is None:
        raise AuthRefused(LOGIN, answer.status)
    return tokens


async def open_sessions(
    target: str, users: list[tuple[str, str]], *, timeout_s: float = 10.0
) -> list[Tokens]:
    """:func:`open_session` for each (address, password), one after another, each request
    bounded by ``timeout_s``."""
    timeout = aiohttp.ClientTimeout(total=timeout_s)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        client = AuthClient(session, target)
        return [await open_session(client, email, password) for email, password in users]
