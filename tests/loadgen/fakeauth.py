"""A small in-memory fake of the auth API on loopback, with programmable delays and failures.

It follows the Service API contract closely enough for the load generator's checks: signup
refuses a taken email (409), login checks the password, refresh rotates the refresh token,
logout needs the bearer token. Knobs:

- ``delays[step]``: seconds every request to that step waits before answering;
- ``fail_every[step] = n``: every n-th request to that step answers 500;
- :meth:`FakeAuth.stall`: from now on, for ``seconds``, every request is held until the
  stall ends (like suspending the server process);
- ``server_timing``: answer with ``Server-Timing: db;dur=0.50, app;dur=<handler ms>`` like
  the service; ``balancer_timing``: add the balancer's entries as a second header line,
  with ``lb-ttfb`` a little longer than ``app``.
"""

from __future__ import annotations

import asyncio
import itertools
import secrets
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from aiohttp import web

STEPS = ("signup", "login", "refresh", "logout")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class FakeAuth:
    def __init__(self) -> None:
        self.delays: dict[str, float] = {}
        self.fail_every: dict[str, int] = {}
        self.requests: Counter[str] = Counter()
        self.emails: list[str] = []
        self.users: dict[str, str] = {}
        self.sessions: dict[str, str] = {}
        self.access: dict[str, str] = {}
        self.server_timing = False
        self.balancer_timing = False
        self._stall_until = 0.0
        self._ids = itertools.count(1)
        self.url = ""

    def stall(self, seconds: float) -> None:
        self._stall_until = time.monotonic() + seconds

    async def _behave(self, step: str) -> web.Response | None:
        self.requests[step] += 1
        hold = self._stall_until - time.monotonic()
        if hold > 0:
            await asyncio.sleep(hold)
        if self.delays.get(step):
            await asyncio.sleep(self.delays[step])
        every = self.fail_every.get(step)
        if every and self.requests[step] % every == 0:
            return _error(500, "internal", "programmed failure")
        return None

    async def signup(self, request: web.Request) -> web.Response:
        if (failure := await self._behave("signup")) is not None:
            return failure
        body = await request.json()
        email, password = body["email"], body["password"]
        self.emails.append(email)
        if email in self.users:
            return _error(409, "email_taken", "email taken")
        self.users[email] = password
        return web.json_response({"id": str(next(self._ids)), "email": email}, status=201)

    async def login(self, request: web.Request) -> web.Response:
        if (failure := await self._behave("login")) is not None:
            return failure
        body = await request.json()
        if self.users.get(body["email"]) != body["password"]:
            return _error(401, "invalid_credentials", "invalid credentials")
        return self._tokens(body["email"])

    async def refresh(self, request: web.Request) -> web.Response:
        if (failure := await self._behave("refresh")) is not None:
            return failure
        body = await request.json()
        email = self.sessions.pop(body.get("refresh_token", ""), None)
        if email is None:
            return _error(401, "invalid_token", "invalid token")
        return self._tokens(email)

    async def logout(self, request: web.Request) -> web.Response:
        if (failure := await self._behave("logout")) is not None:
            return failure
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if self.access.pop(token, None) is None:
            return _error(401, "invalid_token", "invalid token")
        body = await request.json()
        self.sessions.pop(body.get("refresh_token", ""), None)
        return web.Response(status=204)

    def _tokens(self, email: str) -> web.Response:
        access, refresh = secrets.token_urlsafe(16), secrets.token_urlsafe(32)
        self.access[access] = email
        self.sessions[refresh] = email
        return web.json_response(
            {
                "access_token": access,
                "refresh_token": refresh,
                "token_type": "Bearer",
                "expires_in": 900,
            }
        )

    @web.middleware
    async def _timing(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        started = time.perf_counter()
        response = await handler(request)
        if self.server_timing:
            app_ms = (time.perf_counter() - started) * 1000
            response.headers["Server-Timing"] = f"db;dur=0.50, app;dur={app_ms:.2f}"
            if self.balancer_timing:
                response.headers.add(
                    "Server-Timing",
                    f"lb-queue;dur=0.10, lb-connect;dur=0.00, lb-ttfb;dur={app_ms + 0.2:.2f}",
                )
        return response

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._timing])
        for step in STEPS:
            app.router.add_post(f"/auth/{step}", getattr(self, step))
        return app


def _error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status)


@asynccontextmanager
async def serve(fake: FakeAuth) -> AsyncIterator[FakeAuth]:
    """Serve ``fake`` on a free loopback port for the duration of the block."""
    runner = web.AppRunner(fake.app(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    # Port 0 asks the kernel for a free one; the runner reports which it chose.
    port: int = runner.addresses[0][1]
    fake.url = f"http://127.0.0.1:{port}"
    try:
        yield fake
    finally:
        await runner.cleanup()
