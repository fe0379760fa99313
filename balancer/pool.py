"""The connection pool: per-backend slots, the bounded queue and idle keep-alive connections.

A backend has ``maxconn`` slots (requests in flight, counted in ``Backend.active``, which
selection reads). Pool decisions are synchronous (:meth:`Pool.try_acquire`,
:meth:`Pool.release`); only the slow path — waiting in the bounded queue, or opening a
connection — is a coroutine (:meth:`Pool.acquire`). A released slot goes straight to the
oldest waiter, together with the connection when it can be reused, so a request waits in
the queue only while every slot is held. Idle connections are closed after
``idle_timeout``, well below the 900 s after which Swarm's IPVS silently forgets idle
connections, and below typical backend keep-alive timeouts.
"""

from __future__ import annotations

import asyncio
from time import perf_counter

from balancer.backends import ENABLED, Backend, BackendSet
from balancer.errors import ConnectFailed, ConnectTimeout, QueueFull
from balancer.upstream import BackendPool, UpstreamConnection


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
        self._homes: dict[Backend, BackendPool] = {}

    def of(self, backend: Backend) -> BackendPool:
        """``backend``'s part of the pool (made on first use)."""
        home = self._homes.get(backend)
        if home is None:
            home = self._homes[backend] = BackendPool(backend)
        return home

    def peek(self, backend: Backend) -> BackendPool:
        """``backend``'s part of the pool to report on: an empty one, not kept, when it has
        none, so describing a backend removed a moment ago does not bring its part back."""
        return self._homes.get(backend) or BackendPool(backend)

    def forget(self, backend: Backend) -> None:
        """A removed backend: close its idle connections, fail its queue, drop its part."""
        self.close_idle(backend)
        self.fail_waiters(backend)
        self._homes.pop(backend, None)

    def has_slot(self, backend: Backend) -> bool:
        return backend.active < self.maxconn and not self.of(backend).waiters

    def try_acquire(self, backend: Backend) -> UpstreamConnection | None:
        """A free slot and an idle connection, or None (then use :meth:`acquire`)."""
        home = self.of(backend)
        if backend.active < self.maxconn and not home.waiters:
            idle = home.idle
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
        home = self.of(backend)
        if backend.active < self.maxconn and not home.waiters:
            backend.active += 1
        else:
            conn = await self._wait_for_slot(home)
            if conn is not None and not conn.closed:
                return conn
        idle = home.idle
        while idle:
            conn = idle.pop()
            if not conn.closed:
                return conn
        try:
            return await self._connect(home)
        except BaseException:
            self.release(backend, None, reusable=False, now=0.0)
            raise

    async def _wait_for_slot(self, home: BackendPool) -> UpstreamConnection | None:
        backend = home.backend
        if len(home.waiters) >= self.maxqueue:
            raise QueueFull(f"backend {backend.id} queue is full")
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[UpstreamConnection | None] = loop.create_future()
        home.waiters.append(waiter)
        timer = loop.call_later(self.queue_timeout, _expire, waiter, home)
        try:
            return await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                # The slot was handed over just as we were cancelled: give it back.
                self.release(backend, waiter.result(), reusable=True, now=loop.time())
            elif waiter in home.waiters:
                home.waiters.remove(waiter)
            raise
        finally:
            timer.cancel()

    async def _connect(self, home: BackendPool) -> UpstreamConnection:
        backend = home.backend
        loop = asyncio.get_running_loop()
        started = perf_counter()
        try:
            async with asyncio.timeout(self.connect_timeout):
                _, conn = await loop.create_connection(
                    lambda: UpstreamConnection(home), backend.host, backend.port
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
        # A connection knows its part of the pool: no lookup on the hot path.
        home = conn.home if conn is not None else self.of(backend)
        if conn is not None:
            conn.user = None
            conn.parser.sink = None
            if not reusable or conn.closed:
                conn.close()
                conn = None
            else:
                # A slow client may have paused reading for its response; whoever takes
                # the connection next must read its own.
                conn.resume_reading()
        waiters = home.waiters
        while waiters:
            waiter = waiters.popleft()
            if not waiter.done():
                waiter.set_result(conn)
                return
        backend.active -= 1
        if conn is not None:
            if backend.admin_state is ENABLED:
                conn.idle_since = now
                home.idle.append(conn)
            else:
                conn.close()
        if backend.active == 0 and backend.admin_state is not ENABLED:
            self.backends.check_idle(backend)

    def close_idle(self, backend: Backend, older_than: float | None = None) -> None:
        """Close idle connections (all, or those idle since before ``older_than``)."""
        home = self._homes.get(backend)
        if home is None:
            return
        keep = []
        for conn in home.idle:
            if older_than is None or conn.idle_since < older_than:
                conn.close()
            else:
                keep.append(conn)
        home.idle[:] = keep

    def sweep(self, now: float) -> None:
        for backend, home in list(self._homes.items()):
            if home.idle:
                self.close_idle(backend, now - self.idle_timeout)

    def fail_waiters(self, backend: Backend) -> None:
        home = self._homes.get(backend)
        if home is None:
            return
        while home.waiters:
            waiter = home.waiters.popleft()
            if not waiter.done():
                waiter.set_exception(QueueFull(f"backend {backend.id} was removed"))

    def __repr__(self) -> str:
        return f"<Pool maxconn={self.maxconn} maxqueue={self.maxqueue} backends={len(self._homes)}>"


def _expire(waiter: asyncio.Future[UpstreamConnection | None], home: BackendPool) -> None:
    if not waiter.done():
        if waiter in home.waiters:
            home.waiters.remove(waiter)
        waiter.set_exception(
            QueueFull(
                f"timed out waiting in the queue of backend {home.backend.id}",
                code="queue_timeout",
            )
        )
