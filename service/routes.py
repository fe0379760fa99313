"""The HTTP routes of the contract (described in :mod:`service.openapi`, served at
``GET /openapi.json``)."""

from __future__ import annotations

import contextlib
import logging
import time
from dataclasses import replace

import orjson
from sanic import Request, Sanic
from sanic.response import HTTPResponse

from service.addresses import client_address
from service.context import ServiceContext
from service.devices import device_token
from service.emails import canonical_form, parse_email
from service.errors import (
    ApiError,
    InvalidCredentials,
    InvalidEmail,
    InvalidToken,
    ServiceError,
    TokenReused,
    TooManyAttempts,
)
from service.health import check_ready
from service.logs import auth_event
from service.metrics import CONTENT_TYPE
from service.sessions import Session
from service.throttle import account_key
from service.tokens import IssuedToken
from service.web import JSON, bearer_token, json_body, json_response, string_field

NO_STORE = {"Cache-Control": "no-store"}


class Routes:
    """Handlers bound to one app's context."""

    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx
        self._max_body = ctx.config.max_body_bytes

    def register(self, app: Sanic) -> None:  # type: ignore[type-arg]
        add = app.add_route
        add(self.signup, "/auth/signup", methods=["POST"], name="signup")
        add(self.login, "/auth/login", methods=["POST"], name="login")
        add(self.refresh, "/auth/refresh", methods=["POST"], name="refresh")
        add(self.logout, "/auth/logout", methods=["POST"], name="logout")
        add(self.me, "/auth/me", methods=["GET"], name="me")
        add(self.jwks, "/.well-known/jwks.json", methods=["GET"], name="jwks")
        add(self.live, "/health/live", methods=["GET"], name="live")
        add(self.ready, "/health/ready", methods=["GET"], name="ready")
        add(self.openapi, "/openapi.json", methods=["GET"], name="openapi")

    def _tokens_response(self, issued: IssuedToken, session: Session) -> HTTPResponse:
        body = {
            "access_token": issued.token,
            "refresh_token": session.refresh_token,
            "token_type": "Bearer",
            "expires_in": self.ctx.tokens.ttl,
        }
        # Refresh answers in login's shape, device_token included; it is null once the
        # session's device was revoked, since a fresh one would let whoever holds the session
        # skip the per-account lockout.
        body["device_token"] = (
            device_token(self.ctx.pepper, *session.device) if session.device is not None else None
        )
        return json_response(body, headers=NO_STORE)

    def _client(self, request: Request) -> str:
        """The client's address; X-Forwarded-For only from a trusted proxy."""
        return client_address(
            request.conn_info.client_ip if request.conn_info else "",
            request.headers.getall("x-forwarded-for", []),
            self.ctx.config.trusted_proxies,
            self.ctx.trusted_networks,
        )

    async def signup(self, request: Request) -> HTTPResponse:
        ctx = self.ctx
        try:
            data = json_body(request, max_bytes=self._max_body)
            raw_email = string_field(data, "email")
            password = string_field(data, "password")
            email = parse_email(raw_email)
            ctx.policy.check(password, email=email.canonical)
            # Counted before hashing: the hash is what a flood of signups would exhaust.
            await ctx.signups.admit(self._client(request))
            password_hash = await ctx.hasher.hash(password)
            user = await ctx.users.create(
                email=email.display, email_canonical=email.canonical, password_hash=password_hash
            )
        except ApiError as error:
            ctx.metrics.signups.labels(error.code).inc()
            raise
        ctx.metrics.signups.labels("ok").inc()
        return json_response({"id": user.id, "email": user.email}, status=201)

    async def login(self, request: Request) -> HTTPResponse:
        ctx = self.ctx
        data = json_body(request, max_bytes=self._max_body)
        raw_email = string_field(data, "email")
        password = string_field(data, "password")
        try:
            canonical: str | None = parse_email(raw_email).canonical
        except InvalidEmail:
            canonical = None
        address = self._client(request)
        account = canonical if canonical is not None else canonical_form(raw_email)
        try:
            attempt = await ctx.throttle.begin(
                email_canonical=account, address=address, device_token=data.get("device_token")
            )
        except TooManyAttempts:
            ctx.metrics.logins.labels("throttled").inc()
            auth_event(
                "login_throttled",
                level=logging.WARNING,
                account=account_key(account),
                client=address,
            )
            raise
        try:
            credentials = await ctx.users.find_credentials(canonical) if canonical else None
            # Unknown email or wrong password: the same phases and, at least, the same time.
            verified = await ctx.hasher.check(
                password, credentials.password_hash if credentials else None
            )
        except ServiceError:
            with contextlib.suppress(ServiceError):
                await ctx.throttle.abandon(attempt)
            raise
        if not verified or credentials is None:
            await ctx.throttle.failed(attempt)
            ctx.metrics.logins.labels("invalid_credentials").inc()
            auth_event("login_failed", account=account_key(account), client=address)
            raise InvalidCredentials()
        device_id = await ctx.throttle.succeeded(attempt)
        if ctx.hasher.needs_rehash(credentials.password_hash):
            # The cost changed (AUTH_BCRYPT_ROUNDS): the password is at hand only now.
            rehashed = await ctx.hasher.hash(password)
            await ctx.users.replace_password_hash(
                user_id=credentials.id, old=credentials.password_hash, new=rehashed
            )
        device = (attempt.account, device_id)
        session = await ctx.sessions.create(
            user_id=credentials.id, email=credentials.email, device=device
        )
        issued = ctx.tokens.issue(subject=credentials.id, session_id=session.session_id)
        ctx.metrics.logins.labels("ok").inc()
        auth_event("login_ok", user_id=credentials.id, client=address)
        return self._tokens_response(issued, session)

    async def refresh(self, request: Request) -> HTTPResponse:
        ctx = self.ctx
        data = json_body(request, max_bytes=self._max_body)
        refresh_token = string_field(data, "refresh_token")
        try:
            session = await ctx.sessions.rotate(refresh_token)
        except TokenReused as reused:
            ctx.metrics.refresh_reuse.inc()
            auth_event(
                "refresh_token_reused",
                level=logging.WARNING,
                session=refresh_token.partition(".")[0],
            )
            if reused.device is not None:
                # The session is compromised, and so may be the device token it came with.
                await ctx.throttle.revoke_device(*reused.device)
            raise
        if session.device is not None and not await ctx.throttle.device_live(*session.device):
            # Revoked (or expired) since the login: its token is not handed out again.
            session = replace(session, device=None)
        issued = ctx.tokens.issue(subject=session.user_id, session_id=session.session_id)
        return self._tokens_response(issued, session)

    async def logout(self, request: Request) -> HTTPResponse:
        ctx = self.ctx
        claims = ctx.tokens.verify(bearer_token(request))
        data = json_body(request, max_bytes=self._max_body, required=False)
        refresh_token = string_field(data, "refresh_token") if "refresh_token" in data else None
        deny_for = claims.expires_at - int(time.time()) + ctx.tokens.leeway
        logged_out = await ctx.sessions.logout(
            session_id=claims.session_id,
            token_id=claims.token_id,
            deny_for=deny_for,
            refresh_token=refresh_token,
        )
        if not logged_out:
            raise InvalidToken("the session has already ended")
        auth_event("logout", user_id=claims.subject)
        return HTTPResponse(status=204)

    async def me(self, request: Request) -> HTTPResponse:
        ctx = self.ctx
        claims = ctx.tokens.verify(bearer_token(request))
        email = await ctx.sessions.email_if_active(
            session_id=claims.session_id, token_id=claims.token_id, user_id=claims.subject
        )
        if email is None:
            raise InvalidToken("the session has ended")
        return json_response({"id": claims.subject, "email": email})

    async def jwks(self, request: Request) -> HTTPResponse:
        return HTTPResponse(
            self.ctx.jwks_body,
            content_type="application/json",
            headers={"Cache-Control": "public, max-age=300"},
        )

    async def live(self, request: Request) -> HTTPResponse:
        return json_response({"status": "ok"})

    async def ready(self, request: Request) -> HTTPResponse:
        """Minimal on the public port: which store is down is for the metrics listener."""
        ctx = self.ctx
        if ctx.stopping:
            body = {
                "status": "stopping",
                "error": {"code": "unavailable", "message": "shutting down"},
            }
            return json_response(body, status=503, headers={"Retry-After": "1"})
        checks = await check_ready(
            {"postgres": ctx.users.ping, "redis": ctx.sessions.ping},
            limit=ctx.config.ready_timeout,
        )
        if all(state == "ok" for state in checks.values()):
            return json_response({"status": "ok"})
        body = {
            "status": "unavailable",
            "error": {"code": "unavailable", "message": "not ready"},
        }
        return json_response(body, status=503, headers={"Retry-After": "1"})

    async def operator(self, path: str) -> tuple[int, str, bytes] | None:
        """What the metrics listener answers for ``path`` (see service.metrics_listener)."""
        ctx = self.ctx
        if path == "/metrics":
            return 200, CONTENT_TYPE, ctx.metrics.render()
        if path == "/health/live":
            return 200, JSON, orjson.dumps({"status": "ok"})
        if path != "/health/ready":
            return None
        checks = await check_ready(
            {"postgres": ctx.users.ping, "redis": ctx.sessions.ping},
            limit=ctx.config.ready_timeout,
        )
        ok = all(state == "ok" for state in checks.values())
        body = {"status": "ok" if ok else "unavailable", "checks": checks}
        return (200 if ok else 503), JSON, orjson.dumps(body)

    async def openapi(self, request: Request) -> HTTPResponse:
        return HTTPResponse(self.ctx.openapi_body, content_type="application/json")
