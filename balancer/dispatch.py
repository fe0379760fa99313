"""Getting a request to a backend: pick one, take a pooled connection (at once when one
is idle, in a task otherwise) and write the request on it, retrying as
:class:`~balancer.exchange.ExchangeState` rules. The base of the exchange's executor
(:class:`balancer.forward.Exchange`), which adds the client side and the response.
"""

from __future__ import annotations

import asyncio
from time import perf_counter

from balancer.backends import Backend
from balancer.context import BODY_WAIT, ClientSide, ProxyContext
from balancer.errors import ConnectFailed, HttpError, NoBackend, QueueFull
from balancer.exchange import CONNECTING, DISPATCH, Action, ExchangeState
from balancer.http11 import RequestHead, ResponseHead
from balancer.rewrite import server_timing
from balancer.upstream import UpstreamConnection


class Dispatching(ExchangeState):
    """The upstream half of an exchange's executor (see the module docstring)."""

    # The client side's fields too (request_id … chunk_out): one __init__ per request
    # instead of a chain of three.
    __slots__ = (
        "body",
        "chunk_out",
        "conn",
        "connect_time",
        "ctx",
        "dispatched_at",
        "informational",
        "queue_time",
        "request_id",
        "response",
        "sent_at",
        "started",
        "task",
        "upstream",
        "upstream_head",
    )

    def __init__(self, conn: ClientSide, ctx: ProxyContext, head: RequestHead | None) -> None:
        # Named, not super(): this runs once per request, and super() builds an object.
        ExchangeState.__init__(self, head)
        self.conn = conn
        self.ctx = ctx
        self.started = ctx.loop.time()
        self.upstream_head = b""
        self.upstream: UpstreamConnection | None = None
        self.task: asyncio.Task[None] | None = None
        # Phases reported in Server-Timing (perf_counter seconds): 0.0 until they happen.
        self.dispatched_at = 0.0
        self.sent_at = 0.0
        self.queue_time = 0.0
        self.connect_time = 0.0
        self.body: list[bytes] = []
        self.request_id = b""
        self.response: ResponseHead | None = None
        self.informational = False
        self.chunk_out = False

    def fail(self, error: HttpError) -> None:
        """End the exchange with ``error`` (the client side's job)."""
        raise NotImplementedError

    def bind(self, upstream: UpstreamConnection) -> None:
        """Make this exchange the reader of ``upstream``'s responses (the response side's)."""
        raise NotImplementedError

    def dispatch(self) -> None:
        if not self.dispatched_at:
            self.dispatched_at = perf_counter()
        ctx = self.ctx
        backends = ctx.backends
        backend = backends.pick(self.tried)
        if backend is None:
            self.fail(NoBackend("no backend is available", code="no_backend_available"))
            return
        pool = ctx.pool
        upstream = pool.try_acquire(backend)
        if upstream is not None:
            self.attach(backend, upstream)
            return
        if not pool.has_slot(backend):
            for other in backends.available:
                if other is not backend and other not in self.tried and pool.has_slot(other):
                    backend = other
                    upstream = pool.try_acquire(other)
                    if upstream is not None:
                        self.attach(backend, upstream)
                        return
                    break
        self.backend = backend
        self.task = ctx.loop.create_task(self._acquire(backend))

    async def _acquire(self, backend: Backend) -> None:
        ctx = self.ctx
        try:
            upstream = await ctx.pool.acquire(backend)
        except ConnectFailed as exc:
            self.task = None
            ctx.note_failure(backend)
            action = self.connect_failed(
                backend,
                retries=ctx.config.retries,
                others=ctx.others_available((*self.tried, backend)),
                budget=ctx.retry_budget,
                in_flight=ctx.in_flight,
            )
            self.carry_out(action, exc)
            return
        except QueueFull as exc:
            self.task = None
            self.fail(exc)
            return
        self.task = None
        if self.phase is not CONNECTING:
            ctx.pool.release(backend, upstream, reusable=True, now=ctx.loop.time())
            return
        self.attach(backend, upstream)

    def attach(self, backend: Backend, upstream: UpstreamConnection) -> None:
        self.attached(backend)
        self.upstream = upstream
        self.bind(upstream)
        upstream.sent_at = self.ctx.clock
        now = self.sent_at = perf_counter()
        # A fresh connection reports how long it took to open, once; a pooled one took 0.
        connect = self.connect_time = upstream.connect_time
        upstream.connect_time = 0.0
        queued = now - self.dispatched_at - connect
        self.queue_time = queued if queued > 0.0 else 0.0
        backend.total += 1
        transport = upstream.transport
        assert transport is not None
        body = self.body
        if body:
            transport.write(self.upstream_head + b"".join(body))
        else:
            transport.write(self.upstream_head)
        if transport.is_closing():
            self._unsent(backend, upstream)
            return
        if body and not self.replayable:
            body.clear()
        conn = self.conn
        if conn.writing_paused:
            upstream.pause_reading()
        if conn.paused & BODY_WAIT:
            conn.resume_reading(BODY_WAIT)

    def _unsent(self, backend: Backend, upstream: UpstreamConnection) -> None:
        """The pooled connection was already dead: the write failed, nothing left. Its idle
        siblings are suspect too (the backend may have restarted), so they are closed."""
        self.upstream = None
        upstream.user = None
        backend.total -= 1
        ctx = self.ctx
        ctx.pool.release(backend, None, reusable=False, now=ctx.clock)
        ctx.pool.close_idle(backend)
        self.carry_out(self.write_failed(backend))

    def carry_out(self, action: Action, error: HttpError | None = None) -> None:
        """What the rules answered a failure: DISPATCH again, or FAIL with ``error`` (by
        default the one the rules set)."""
        if action is DISPATCH:
            self.dispatch()
            return
        error = error or self.error
        assert error is not None
        self.fail(error)

    def _release(self, *, reusable: bool) -> None:
        upstream = self.upstream
        backend = self.backend
        if upstream is None or backend is None:
            return
        self.upstream = None
        upstream.user = None
        if not reusable:
            upstream.abort()
        self.ctx.pool.release(backend, upstream, reusable=reusable, now=self.ctx.clock)

    def _error_timing(self) -> bytes:
        """Server-Timing of an error made here: the queue (and connect) before it, if any."""
        if not self.dispatched_at:
            return b""
        if not self.sent_at:
            # Never attached: all the time since dispatch went to waiting for a backend.
            return server_timing(perf_counter() - self.dispatched_at)
        return server_timing(self.queue_time, self.connect_time)
