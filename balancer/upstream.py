"""Upstream side: keep-alive connections to backends and the per-backend pool.

A backend has ``maxconn`` slots (requests in flight). Pool decisions are synchronous
(:meth:`Pool.try_acquire`, :meth:`Pool.release`); only the slow path — waiting in the bounded
queue, or opening a connection — is a coroutine (:meth:`Pool.acquire`). A released slot goes
straight to the oldest waiter, together with the connection when it can be reused. Idle
connections are closed after ``idle_timeout``, well below the 900 s after which Swarm's IPVS
silently forgets idle connections, and below typical backend keep-alive timeouts.
"""

from __future__ import annotations

import asyncio
from time import perf_counter
from typing import Protocol, cast

from balancer.backends import Backend, BackendSet
from balancer.errors import BadResponse, ConnectFailed, ConnectTimeout, QueueFull
from balancer.http11 import ResponseParser, ResponseSink


class UpstreamUser(ResponseSink, Protocol):
    """What an exchange offers the upstream connection it is attached to."""

    def flush(self) -> None: ...
    def upstream_lost(self, exc: Exception | None) -> None: ...
    def upstream_failed(self, exc: BadResponse) -> None: ...
    def pause_client(self) -> None: ...
    def resume_client(self) -> None: ...


class UpstreamConnection(asyncio.Protocol):
    """One keep-alive connection to a backend, used by one exchange at a time."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.transport: asyncio.Transport | None = None
        self.parser = ResponseParser()
        self.user: UpstreamUser | None = None
        self.idle_since = 0.0
        # Last time bytes went to or came from the backend for the current exchange.
        self.sent_at = 0.0
        # Seconds it took to open; the first exchange on it reports them, then they are 0.
        self.connect_time = 0.0
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it.
        self.transport = transport = cast(asyncio.Transport, transport)
        self.backend.connections += 1

    def data_received(self, data: bytes) -> None:
        user = self.user
        if user is None:
            # Nothing was asked: the connection is out of step and cannot be reused.
            self.close()
            return
        try:
            self.parser.feed(data)
        except BadResponse as exc:
            user.upstream_failed(exc)
            return
        user.flush()

    def eof_received(self) -> bool:
        self.closed = True
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        backend = self.backend
        backend.connections -= 1
        user = self.user
        if user is not None:
            self.user = None
            user.upstream_lost(exc)
        elif self in backend.idle:
            backend.idle.remove(self)

    def pause_writing(self) -> None:
        if self.user is not None:
            self.user.pause_client()

    def resume_writing(self) -> None:
        if self.user is not None:
            self.user.resume_client()

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    def abort(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.abort()

    def __repr__(self) -> str:
        state = "closed" if self.closed else ("busy" if self.user is not None else "idle")
        return f"<UpstreamConnection {self.backend.id} {state}>"


class Pool:
    """Slots, queue and idle connections of every backend."""

    def __init__(
        self,
        backends: BackendSet,
        *,
        maxconn: int,
        maxqueue: int,
        queue_timeout: float,
        connect_timeout: float,
        idle_timeout: float,
    ) -> None:
        self.backends = backends
        self.maxconn = maxconn
        self.maxqueue = maxqueue
        self.queue_timeout = queue_timeout
        self.connect_timeout = connect_timeout
        self.idle_timeout = idle_timeout

    def has_slot(self, backend: Backend) -> bool:
        return backend.active < self.maxconn and not backend.waiters

    def try_acquire(self, backend: Backend) -> UpstreamConnection | None:
        """A free slot and an idle connection, or None (then use :meth:`acquire`)."""
        if backend.active < self.maxconn and not backend.waiters:
            idle = backend.idle
            while idle:
                conn = idle.pop()
                if not conn.closed:
                    backend.active += 1
                    return conn
        return None

    async def acquire(self, backend: Backend) -> UpstreamConnection:
        """Wait for a slot (bounded queue, queue timeout), then reuse or open a connection.

        Raises :class:`QueueFull`, :class:`ConnectFailed` or :class:`ConnectTimeout`; the slot
        is released again on any failure or cancellation.
        """
        if backend.active < self.maxconn and not backend.waiters:
            backend.active += 1
        else:
            conn = await self._wait_for_slot(backend)
            if conn is not None and not conn.closed:
                return conn
        idle = backend.idle
        while idle:
            conn = idle.pop()
            if not conn.closed:
                return conn
        try:
            return await self._connect(backend)
        except BaseException:
            self.release(backend, None, reusable=False, now=0.0)
            raise

    async def _wait_for_slot(self, backend: Backend) -> UpstreamConnection | None:
        if len(backend.waiters) >= self.maxqueue:
            raise QueueFull(f"backend {backend.id} queue is full")
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[UpstreamConnection | None] = loop.create_future()
        backend.waiters.append(waiter)
        timer = loop.call_later(self.queue_timeout, _expire, waiter, backend)
        try:
            return await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                # The slot was handed over just as we were cancelled: give it back.
                self.release(backend, waiter.result(), reusable=True, now=loop.time())
            elif waiter in backend.waiters:
                backend.waiters.remove(waiter)
            raise
        finally:
            timer.cancel()

    async def _connect(self, backend: Backend) -> UpstreamConnection:
        loop = asyncio.get_running_loop()
        started = perf_counter()
        try:
            async with asyncio.timeout(self.connect_timeout):
                _, conn = await loop.create_connection(
                    lambda: UpstreamConnection(backend), backend.host, backend.port
                )
        except TimeoutError as exc:
            raise ConnectTimeout(f"connecting to backend {backend.id} timed out") from exc
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            raise ConnectFailed(f"cannot connect to backend {backend.id}: {reason}") from exc
        conn.connect_time = perf_counter() - started
        return conn

    def release(
        self, backend: Backend, conn: UpstreamConnection | None, *, reusable: bool, now: float
    ) -> None:
        """Return a slot, and the connection if it can carry another request."""
        if conn is not None:
            conn.user = None
            conn.parser.sink = None
            if not reusable or conn.closed:
                conn.close()
                conn = None
            elif conn.transport is not None:
                # A slow client may have paused reading for its response; whoever takes
                # the connection next must read its own.
                conn.transport.resume_reading()
        waiters = backend.waiters
        while waiters:
            waiter = waiters.popleft()
            if not waiter.done():
                waiter.set_result(conn)
                return
        backend.active -= 1
        if conn is not None:
            if backend.admin_state == "enabled":
                conn.idle_since = now
                backend.idle.append(conn)
            else:
                conn.close()
        if backend.active == 0 and backend.admin_state != "enabled":
            self.backends.check_idle(backend)

    def close_idle(self, backend: Backend, older_than: float | None = None) -> None:
        """Close idle connections (all, or those idle since before ``older_than``)."""
        keep = []
        for conn in backend.idle:
            if older_than is None or conn.idle_since < older_than:
                conn.close()
            else:
                keep.append(conn)
        backend.idle[:] = keep

    def sweep(self, now: float) -> None:
        for backend in list(self.backends.backends.values()):
            if backend.idle:
                self.close_idle(backend, now - self.idle_timeout)

    def fail_waiters(self, backend: Backend) -> None:
        while backend.waiters:
            waiter = backend.waiters.popleft()
            if not waiter.done():
                waiter.set_exception(QueueFull(f"backend {backend.id} was removed"))


def _expire(waiter: asyncio.Future[UpstreamConnection | None], backend: Backend) -> None:
    if not waiter.done():
        if waiter in backend.waiters:
            backend.waiters.remove(waiter)
        waiter.set_exception(
            QueueFull(
                f"timed out waiting in the queue of backend {backend.id}", code="queue_timeout"
            )
        )
