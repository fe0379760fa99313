"""The Sanic application: ``create_app`` wires configuration, stores and routes together.

Run it with ``python -m service`` or ``sanic service.app:create_app --factory`` (the latter
reads only the environment).
"""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

import orjson
from redis.asyncio import ConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from sanic import Request, Sanic
from sanic.config import Config
from sanic.response import BaseHTTPResponse
from sanic.worker.loader import AppLoader

from service import metrics_listener, stores, timing, tracing
from service.addresses import parse_networks
from service.config import ServiceConfig, config_from_environment, metrics_address
from service.context import ServiceContext
from service.errors import Unavailable
from service.logs import SERVICE, access_line, setup_logging
from service.metrics import ServiceMetrics
from service.openapi import openapi_document
from service.passwords import PasswordHasher, PasswordPolicy
from service.pepper import Pepper
from service.routes import Routes
from service.sessions import SessionStore
from service.throttle import LoginThrottle, SignupThrottle
from service.tokens import AccessTokens
from service.users import UserStore, open_pool
from service.web import JsonErrorHandler

APP_NAME = "authscale"
ServiceApp = Sanic[Config, ServiceContext]


def create_app(config: ServiceConfig | None = None) -> ServiceApp:
    """A ready-to-serve app; stores are opened when the server starts."""
    if not isinstance(config, ServiceConfig):
        # `sanic --factory` passes its own argument namespace: read the environment then.
        config = config_from_environment()
    setup_logging(log_format=config.log_format, instance=config.name)
    tokens = AccessTokens.from_config(config)
    ctx = ServiceContext(
        config=config,
        metrics=ServiceMetrics(),
        tokens=tokens,
        policy=PasswordPolicy(),
        jwks_body=orjson.dumps(tokens.jwks()),
        openapi_body=orjson.dumps(openapi_document()),
        pepper=Pepper(config.token_pepper or b""),
        trusted_networks=parse_networks(
            config.trusted_proxy_addrs, name="AUTH_TRUSTED_PROXY_ADDRS"
        ),
        exempt_networks=parse_networks(config.rate_limit_exempt, name="AUTH_RATE_LIMIT_EXEMPT"),
    )
    app: ServiceApp = Sanic(
        APP_NAME, ctx=ctx, error_handler=JsonErrorHandler(), configure_logging=False
    )
    app.config.update(
        {
            "AUTO_EXTEND": False,
            "ACCESS_LOG": False,
            "NOISY_EXCEPTIONS": False,
            "FALLBACK_ERROR_FORMAT": "json",
            "REQUEST_MAX_SIZE": config.max_body_bytes,
            "GRACEFUL_SHUTDOWN_TIMEOUT": 10.0,
        }
    )
    routes = Routes(ctx)
    routes.register(app)
    app.register_listener(_open_stores, "before_server_start")
    app.register_listener(partial(_start_metrics_listener, routes.operator), "after_server_start")
    app.register_listener(_announce, "after_server_start")
    app.register_listener(_begin_shutdown, "before_server_stop")
    app.register_listener(_close_stores, "after_server_stop")
    # Without Server-Timing no recorder is made, so the phases' choke points record nothing.
    app.register_middleware(_start_timer if config.server_timing else _start_clock, "request")
    app.register_middleware(
        partial(_record, ctx, config.access_log),  # type: ignore[arg-type]
        "response",
    )
    # Optional spans over OTLP: only with OTEL_EXPORTER_OTLP_ENDPOINT and the otel extra.
    tracing.install(app, config.otlp_endpoint, instance=config.name)
    return app


async def _start_timer(request: Request) -> None:
    request.ctx.started = timing.begin().started


async def _start_clock(request: Request) -> None:
    request.ctx.started = time.perf_counter()


async def _record(
    ctx: ServiceContext, access_log: bool, request: Request, response: BaseHTTPResponse
) -> None:
    if ctx.stopping and request.stream is not None:
        # Sanic waits for open connections when it stops; closing this one after its
        # response lets the process exit as soon as in-flight requests are done.
        request.stream.keep_alive = False  # type: ignore[attr-defined]
    metrics = ctx.metrics
    started = getattr(request.ctx, "started", None)
    elapsed = 0.0 if started is None else time.perf_counter() - started
    route = request.route
    label = "/" + route.path if route is not None else "unmatched"
    status = response.status
    metrics.observe_request(label, request.method, status, elapsed)
    _send_phases(metrics, label, response)
    if access_log:
        access_line(
            request_id=request.headers.get("x-request-id", ""),
            method=request.method,
            route=label,
            status=status,
            duration_ms=elapsed * 1000.0,
        )


def _send_phases(metrics: ServiceMetrics, route: str, response: BaseHTTPResponse) -> None:
    recorder = timing.current()
    if recorder is None:
        return
    app_seconds = timing.finish(recorder)
    response.headers[timing.HEADER] = timing.server_timing(recorder, app_seconds)
    metrics.phases.observe(route, recorder, app_seconds)


def open_redis(config: ServiceConfig) -> Redis:
    """A client that fails fast: one immediate reconnect attempt, short socket timeouts."""
    pool = ConnectionPool.from_url(
        config.redis_url,
        socket_timeout=config.io_timeout,
        socket_connect_timeout=config.io_timeout,
        retry=Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)),
    )
    return Redis.from_pool(pool)


async def _wait_for_redis(redis: Redis, *, patience: float, where: str) -> None:
    loop = asyncio.get_running_loop()
    wait = stores.StartupWait("Redis", where, patience=patience, began=loop.time())
    while True:
        try:
            await redis.ping()
            return
        except (RedisConnectionError, OSError) as exc:
            warning = wait.failed(loop.time(), exc)
            if warning is not None:
                SERVICE.warning("%s", warning)
            await asyncio.sleep(stores.RETRY_DELAY)


async def _open_stores(app: ServiceApp) -> None:
    ctx = app.ctx
    config = ctx.config
    ctx.executor = ThreadPoolExecutor(
        max_workers=config.bcrypt_threads, thread_name_prefix="bcrypt"
    )
    ctx.hasher = PasswordHasher(
        rounds=config.bcrypt_rounds,
        executor=ctx.executor,
        max_in_flight=config.bcrypt_threads,
        on_start=ctx.metrics.bcrypt_started,
        on_finish=ctx.metrics.bcrypt_finished,
    )
    ctx.pool = await open_pool(
        config.database_url,
        min_size=config.db_pool_min,
        max_size=config.db_pool_max,
        io_timeout=config.io_timeout,
        startup_timeout=config.startup_timeout,
    )
    ctx.redis = open_redis(config)
    await _wait_for_redis(
        ctx.redis,
        patience=config.startup_timeout,
        where=stores.redis_location(config.redis_url),
    )
    ctx.users = UserStore(ctx.pool, timeout=config.io_timeout)
    ctx.sessions = SessionStore(
        ctx.redis,
        prefix=config.redis_prefix,
        refresh_ttl=config.refresh_ttl,
        pepper=ctx.pepper,
        max_age=config.session_max_age,
        max_per_user=config.max_sessions_per_user,
    )
    ctx.throttle = LoginThrottle(
        ctx.redis,
        prefix=config.redis_prefix,
        pepper=ctx.pepper,
        max_failures=config.login_max_failures,
        max_failures_per_address=config.login_max_failures_per_address,
        max_failures_per_device=config.login_max_failures_per_device,
        window=config.login_window,
        exempt=ctx.exempt_networks,
    )
    ctx.signups = SignupThrottle(
        ctx.redis,
        prefix=config.redis_prefix,
        max_per_address=config.signup_max_per_address,
        window=config.signup_window,
        exempt=ctx.exempt_networks,
    )
    highest = await ctx.users.highest_password_cost()
    if highest is not None:
        ctx.hasher.expect_cost(highest)


async def _start_metrics_listener(operator: metrics_listener.Responder, app: ServiceApp) -> None:
    config = app.ctx.config
    if not config.metrics_listen:
        return
    host, port = metrics_address(config.metrics_listen)
    try:
        app.ctx.metrics_server = await metrics_listener.start(
            host, port, operator, reuse_port=config.workers > 1
        )
    except OSError as exc:
        raise Unavailable(f"cannot listen for metrics on {config.metrics_listen}: {exc}") from exc


async def _announce(app: ServiceApp) -> None:
    config = app.ctx.config
    SERVICE.info(
        "serving on %s (Postgres %s, Redis %s; jwt %s, bcrypt cost %d, %d hashing threads%s)",
        app.serve_location or f"http://{config.host}:{config.port}",
        stores.postgres_location(config.database_url),
        stores.redis_location(config.redis_url),
        config.jwt_algorithm,
        config.bcrypt_rounds,
        config.bcrypt_threads,
        f"; metrics on http://{config.metrics_listen}" if config.metrics_listen else "",
    )


async def _begin_shutdown(app: ServiceApp) -> None:
    ctx = app.ctx
    ctx.stopping = True
    delay = ctx.config.shutdown_delay
    if delay > 0:
        # Sanic still accepts and serves while this listener runs. Readiness now answers
        # 503 and every response closes its connection, so a balancer stops sending here
        # before the idle keep-alive connections are closed: closed under a request it is
        # writing, they would cost that request (a POST is never replayed).
        SERVICE.info("stopping: not ready, serving %.1f s more (AUTH_SHUTDOWN_DELAY)", delay)
        await asyncio.sleep(delay)
    if ctx.metrics_server is not None:
        ctx.metrics_server.close()


async def _close_stores(app: ServiceApp) -> None:
    ctx = app.ctx
    closers: list[Any] = []
    if hasattr(ctx, "redis"):
        closers.append(ctx.redis.aclose())
    if hasattr(ctx, "pool"):
        closers.append(asyncio.wait_for(ctx.pool.close(), timeout=5.0))
    results = await asyncio.gather(*closers, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            SERVICE.warning("error while closing a store: %r", result)
    if hasattr(ctx, "executor"):
        ctx.executor.shutdown(wait=False, cancel_futures=True)


def serve(config: ServiceConfig) -> None:
    """Run the service in the foreground until SIGINT/SIGTERM.

    One worker runs in this process (simplest to supervise and to measure); more workers
    are processes of Sanic's manager, each building the app from the same configuration,
    so they share the signing key even when it is an ephemeral ``--dev`` key.
    """
    loader = AppLoader(factory=partial(create_app, config))
    app = loader.load()
    single = config.workers == 1
    app.prepare(
        host=config.host,
        port=config.port,
        workers=config.workers,
        single_process=single,
        access_log=False,
        motd=False,
    )
    if single:
        Sanic.serve_single(primary=app)
    else:
        Sanic.serve(primary=app, app_loader=loader)
