"""Admin API (aiohttp.web, same event loop as the proxy).

``GET /backends``, ``POST /backends`` (``{"url", "weight"}``), ``PATCH /backends/{id}``
(``{"weight"}``), ``DELETE /backends/{id}`` (drain, then remove),
``POST /backends/{id}/drain``, ``/enable``, ``/disable``, ``GET /metrics`` (Prometheus) and
``GET /`` (the status page). With a token (configured, or generated at start) every route
but the static page needs ``Authorization: Bearer <token>``; the page asks for it (or takes
it from ``/#token=<token>``) and keeps it for the tab. Errors use the proxy's JSON shape.

Against DNS rebinding and cross-site requests from a browser on the same machine: every
request must name an allowed ``Host`` (421 otherwise), changes must come from no origin or
the page's own, and a change with a body must carry ``Content-Type: application/json``
(which a cross-site form cannot send without a CORS preflight we never grant); no response
may be framed.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Awaitable, Callable
from importlib import resources
from typing import TYPE_CHECKING, Any, TypeGuard

import orjson
from aiohttp import web
from aiohttp.typedefs import Middleware

from balancer.backends import AdminState, Backend
from balancer.errors import AdminError
from balancer.metrics import make_registry, render
from balancer.selection import IGNORES_WEIGHTS

if TYPE_CHECKING:
    from balancer.context import ProxyContext

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _json(data: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(data), status=status, content_type="application/json")


def _error(status: int, code: str, message: str) -> web.Response:
    return _json({"error": {"code": code, "message": message}}, status)


def describe(ctx: ProxyContext, backend: Backend) -> dict[str, Any]:
    """One backend as the API and the status page show it."""
    check = backend.last_check
    home = ctx.pool.peek(backend)
    return {
        "id": backend.id,
        "url": backend.url,
        "state": backend.state,
        "weight": backend.weight,
        "active": backend.active,
        "total": backend.total,
        "failures": backend.failures,
        "consecutive_failures": backend.streak,
        "queued": len(home.waiters),
        "connections": {"open": home.open, "idle": len(home.idle)},
        "responses": {f"{i}xx": backend.statuses[i] for i in range(1, 6)},
        "idle": backend.is_idle,
        "removing": backend.removing,
        "last_check": None
        if check is None
        else {
            "ok": check.ok,
            "status": check.status,
            "latency_ms": round(check.latency * 1000, 3),
            "error": check.error,
            "at": check.at,
        },
    }


def backends_payload(ctx: ProxyContext) -> dict[str, Any]:
    return {
        "algorithm": ctx.config.algorithm,
        "backends": [describe(ctx, b) for b in ctx.backends.backends.values()],
    }


_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_WILDCARDS = frozenset({"0.0.0.0", "::", ""})
_SECURITY_HEADERS = {
    "Content-Security-Policy": "frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
}


def host_name(host: str) -> str:
    """The name part of a ``Host`` value: no port, no IPv6 brackets, lower case."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    name, sep, port = host.rpartition(":")
    if sep and port.isdigit() and ":" not in name:
        host = name
    return host.rstrip(".")


def host_allowed(host: str, *, bound: str, names: frozenset[str]) -> bool:
    """Whether a request naming ``host`` may reach the admin API bound to ``bound``.

    A DNS rebinding attack makes a browser send the attacker's *name*, so names must be
    known: ``localhost``, the bound address, or one configured with ``--admin-host``. An IP
    literal cannot be rebound; it must be the bound address, or any address when the API
    listens on all of them.
    """
    name = host_name(host)
    if name == "localhost" or name == bound.lower() or name in names:
        return True
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return bound in _WILDCARDS


def _foreign_origin(request: web.Request) -> bool:
    origin = request.headers.get("Origin")
    if origin is None:
        return request.headers.get("Sec-Fetch-Site", "same-origin") not in (
            "same-origin",
            "none",
        )
    return origin != f"{request.scheme}://{request.host}"


def _refusal(
    request: web.Request, *, token: str | None, bound: str, hosts: frozenset[str]
) -> web.Response | None:
    """The error answering ``request`` before any handler sees it, or None to let it in."""
    if not host_allowed(request.host, bound=bound, names=hosts):
        return _error(
            421, "unknown_host", "this admin API does not answer to that Host (--admin-host)"
        )
    changes = request.method not in _SAFE_METHODS
    # Without a token, loopback is the only protection, and any web page open in a
    # browser on this machine could POST here: browsers name the page's origin on such
    # requests, so changes from another origin are refused (tools send no Origin).
    if changes and _foreign_origin(request):
        return _error(403, "cross_origin", "changes must come from the status page's origin")
    # The status page itself is static and holds no data: a browser cannot send a bearer
    # token when navigating, so the page asks for it (or takes it from the URL fragment,
    # #token=...) and sends it with each API call.
    is_page = request.method == "GET" and request.path == "/"
    if token is not None and not is_page and not _bearer_matches(request, token):
        response = _error(401, "unauthorized", "a valid bearer token is required")
        response.headers["WWW-Authenticate"] = "Bearer"
        return response
    # A body must be JSON, which a cross-site form cannot send; a change without one (DELETE,
    # drain, enable, disable) has nothing to label, and the checks above already stand
    # between it and a foreign page.
    if changes and request.body_exists and request.content_type != "application/json":
        return _error(415, "unsupported_media_type", "a body must be sent as application/json")
    return None


def _bearer_matches(request: web.Request, token: str) -> bool:
    supplied = request.headers.get("Authorization", "")
    return hmac.compare_digest(supplied.encode(), f"Bearer {token}".encode())


async def _json_body(request: web.Request) -> Any:
    try:
        return orjson.loads(await request.read())
    except orjson.JSONDecodeError as exc:
        raise AdminError(400, "invalid_json", "the body must be a JSON object") from exc


def _is_integer(value: object) -> TypeGuard[int]:
    # JSON true/false decode to bool, which Python counts as an int: not a weight.
    return isinstance(value, int) and not isinstance(value, bool)


def _new_backend(data: Any) -> tuple[str, int]:
    """The url and weight a ``POST /backends`` body asks for."""
    if not isinstance(data, dict) or not isinstance(data.get("url"), str):
        raise AdminError(400, "invalid_backend", 'expected {"url": "http://host:port"}')
    weight = data.get("weight", 1)
    if not _is_integer(weight):
        raise AdminError(400, "invalid_weight", "weight must be an integer")
    return data["url"], weight


def _new_weight(data: Any) -> int:
    """The weight a ``PATCH /backends/{id}`` body asks for."""
    weight = data.get("weight") if isinstance(data, dict) else None
    if not _is_integer(weight):
        raise AdminError(400, "invalid_weight", 'expected {"weight": <integer>}')
    return weight


def _guard(token: str | None, *, bound: str, hosts: frozenset[str]) -> Middleware:
    """The middleware that refuses what :func:`_refusal` refuses and turns an
    :class:`AdminError` from a handler into its JSON answer."""

    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        refused = _refusal(request, token=token, bound=bound, hosts=hosts)
        if refused is not None:
            return refused
        try:
            return await handler(request)
        except AdminError as exc:
            return _error(exc.status, exc.code, exc.message)

    return guard


async def _security_headers(request: web.Request, response: web.StreamResponse) -> None:
    response.headers.update(_SECURITY_HEADERS)


def make_app(
    ctx: ProxyContext, token: str | None, *, bound: str, hosts: frozenset[str] = frozenset()
) -> web.Application:
    """The admin application for the API bound to address ``bound``; ``token`` None means
    no authentication (loopback, ``--admin-insecure``)."""
    registry = make_registry(ctx)
    page = resources.files("balancer").joinpath("status.html").read_bytes()

    async def index(request: web.Request) -> web.Response:
        return web.Response(body=page, content_type="text/html", charset="utf-8")

    async def list_backends(request: web.Request) -> web.Response:
        return _json(backends_payload(ctx))

    async def add_backend(request: web.Request) -> web.Response:
        url, weight = _new_backend(await _json_body(request))
        backend = ctx.backends.add(url, weight=weight, up=False)
        return _json(describe(ctx, backend), 201)

    async def update_backend(request: web.Request) -> web.Response:
        weight = _new_weight(await _json_body(request))
        backend = ctx.backends.set_weight(request.match_info["id"], weight)
        answer = describe(ctx, backend)
        if ctx.config.algorithm in IGNORES_WEIGHTS:
            # Accepted (it applies if the balancer restarts with another algorithm), but
            # the caller should not think traffic moved.
            answer["note"] = (
                f"the {ctx.config.algorithm} algorithm ignores weights: this one takes effect "
                "only under weighted-round-robin, least-connections or power-of-two "
                "(--algorithm)"
            )
        return _json(answer)

    async def delete_backend(request: web.Request) -> web.Response:
        backend = ctx.backends.remove(request.match_info["id"])
        return _json(describe(ctx, backend), 202)

    def set_state(state: AdminState) -> Handler:
        async def handler(request: web.Request) -> web.Response:
            backend = ctx.backends.set_admin_state(request.match_info["id"], state)
            return _json(describe(ctx, backend))

        return handler

    async def metrics(request: web.Request) -> web.Response:
        return web.Response(
            body=render(registry), headers={"Content-Type": "text/plain; version=0.0.4"}
        )

    app = web.Application(middlewares=[_guard(token, bound=bound, hosts=hosts)])
    app.on_response_prepare.append(_security_headers)
    app.router.add_get("/", index)
    app.router.add_get("/backends", list_backends)
    app.router.add_post("/backends", add_backend)
    app.router.add_patch("/backends/{id}", update_backend)
    app.router.add_delete("/backends/{id}", delete_backend)
    app.router.add_post("/backends/{id}/drain", set_state(AdminState.DRAINING))
    app.router.add_post("/backends/{id}/enable", set_state(AdminState.ENABLED))
    app.router.add_post("/backends/{id}/disable", set_state(AdminState.DISABLED))
    app.router.add_get("/metrics", metrics)
    return app
