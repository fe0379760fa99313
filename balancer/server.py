"""Assembly and lifecycle: listeners, admin API, health checks, DNS discovery, shutdown.

:class:`Balancer` wires the pieces together. ``start()`` returns once both ports accept
connections; ``shutdown()`` stops accepting, lets in-flight requests finish within
``shutdown_timeout``, then closes everything (uvicorn's shutdown sequence).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import signal
import sys

from aiohttp import web

from balancer import _build
from balancer.admin import make_app
from balancer.backends import AdminState, Backend, BackendSet
from balancer.checks import HealthMonitor, restore_ejected
from balancer.config import Address, BalancerConfig
from balancer.context import ProxyContext
from balancer.discovery import DnsDiscovery, Resolver, system_resolver
from balancer.pool import Pool
from balancer.proxy import ClientConnection
from balancer.selection import make_selector

logger = logging.getLogger("balancer")

TICK = 0.25


class Balancer:
    """The running balancer. Ports 0 in the configuration pick free ports (see the addresses)."""

    def __init__(self, config: BalancerConfig, *, resolver: Resolver = system_resolver) -> None:
        self.config = config
        self.resolver = resolver
        #: The admin API's bearer token: configured, generated (printed at start), or None
        #: with ``admin_insecure``.
        self.admin_token = config.admin_token
        self._token_generated = False
        if self.admin_token is None and config.admin is not None and not config.admin_insecure:
            self.admin_token = secrets.token_urlsafe(24)
            self._token_generated = True
        self.backends = BackendSet(
            make_selector(config.algorithm), rise=config.rise, fall=config.fall
        )
        self.backends.active_checks = config.health_interval > 0
        for spec in config.backends:
            self.backends.add(spec.url, weight=spec.weight, up=True)
        self.pool = Pool(
            self.backends,
            maxconn=config.maxconn,
            maxqueue=config.maxqueue,
            queue_timeout=config.queue_timeout,
            connect_timeout=config.connect_timeout,
            idle_timeout=config.upstream_idle_timeout,
        )
        self.backends.subscribe(self._on_backend_event)
        self.monitor = HealthMonitor(
            self.backends,
            path=config.health_path,
            interval=config.health_interval,
            timeout=config.health_timeout,
            jitter=config.health_jitter,
        )
        self.discoveries = [
            DnsDiscovery(
                self.backends, a.host, a.port, interval=config.dns_interval, resolver=resolver
            )
            for a in config.backend_dns
        ]
        self.ctx: ProxyContext | None = None
        self._server: asyncio.Server | None = None
        self._admin: web.AppRunner | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self.listen_address: Address | None = None
        self.admin_address: Address | None = None

    def _on_backend_event(self, event: str, backend: Backend) -> None:
        if event == "changed" and backend.admin_state is not AdminState.ENABLED:
            self.pool.close_idle(backend)
        elif event == "removed":
            self.pool.forget(backend)

    async def start(self) -> None:
        """Start everything; on failure (a port in use…) stop what was started and re-raise."""
        try:
            await self._start()
        except BaseException:
            await self.shutdown()
            raise

    async def _start(self) -> None:
        config = self.config
        loop = asyncio.get_running_loop()
        ctx = self.ctx = ProxyContext(config, self.backends, self.pool, loop)
        self.monitor.start()
        for discovery in self.discoveries:
            await discovery.refresh()
            self._tasks.append(loop.create_task(discovery.run()))
        if config.admin is not None:
            app = make_app(
                ctx,
                self.admin_token,
                bound=config.admin.host,
                hosts=frozenset(config.admin_hosts),
            )
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            site = web.TCPSite(runner, config.admin.host, config.admin.port, reuse_address=True)
            await site.start()
            self._admin = runner
            self.admin_address = Address(*runner.addresses[0][:2])
        self._server = await loop.create_server(
            lambda: ClientConnection(ctx),
            config.listen.host,
            config.listen.port,
            backlog=4096,
            reuse_address=True,
        )
        self.listen_address = Address(*self._server.sockets[0].getsockname()[:2])
        self._tasks.append(loop.create_task(self._tick()))
        if self._token_generated and self.admin_address is not None:
            self._announce_token(self.admin_address)
        if not self.backends.backends and not self.discoveries:
            logger.warning("no backends configured: add some with POST /backends")
        admin = f" admin http://{self.admin_address}" if self.admin_address else ""
        logger.info(
            "listening on http://%s%s, %d backends, %s, request path %s",
            self.listen_address,
            admin,
            len(self.backends.backends),
            config.algorithm,
            _build.chosen().describe(),
            extra={
                "fields": {
                    "event": "listening",
                    "listen": str(self.listen_address),
                    "admin": str(self.admin_address),
                    "build": _build.chosen().kind,
                }
            },
        )

    def _announce_token(self, admin: Address) -> None:
        # Printed on stdout, not logged: the operator needs it whatever the log level, and
        # neither log collectors nor JSON log lines on stderr should carry it.
        print(
            f"admin token: {self.admin_token} (generated; set BALANCER_ADMIN_TOKEN to choose one)"
            f"\nstatus page: http://{admin}/#token={self.admin_token}",
            file=sys.stdout,
            flush=True,
        )

    async def _tick(self) -> None:
        assert self.ctx is not None
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(TICK)
            now = loop.time()
            self.ctx.tick(now)
            if not self.monitor.enabled:
                restore_ejected(self.backends, now)

    async def shutdown(self) -> None:
        """Stop accepting, let in-flight requests finish (bounded), then close everything."""
        ctx = self.ctx
        if ctx is None:
            return
        ctx.shutting_down = True
        if self._server is not None:
            self._server.close()
        for client in list(ctx.clients):
            if not client.busy():
                client.close()
        if ctx.clients:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.config.shutdown_timeout):
                    await ctx.all_closed.wait()
        if ctx.clients:
            logger.warning("shutdown: aborting %d connections still busy", len(ctx.clients))
            for client in list(ctx.clients):
                client.abort()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        await self.monitor.close()
        if self._admin is not None:
            await self._admin.cleanup()
            self._admin = None
        for backend in self.backends.backends.values():
            self.pool.close_idle(backend)
        await asyncio.sleep(0)
        logger.info("stopped")


async def run(config: BalancerConfig, *, resolver: Resolver = system_resolver) -> None:
    """Run until SIGTERM or SIGINT, then shut down gracefully."""
    balancer = Balancer(config, resolver=resolver)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop.set)
    await balancer.start()
    try:
        await stop.wait()
    finally:
        logger.info("shutting down")
        await balancer.shutdown()
