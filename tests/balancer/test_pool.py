"""The pool's slot and queue rules without sockets: slots per backend, the bounded queue,
its timeout, and a freed slot handed to the oldest waiter with its connection."""

from __future__ import annotations

import asyncio

import pytest

from balancer.backends import BackendSet
from balancer.errors import QueueFull
from balancer.pool import Pool
from balancer.selection import RoundRobin
from balancer.upstream import UpstreamConnection


class QuietTransport:
    """Stands in for a socket: the pool only pauses, resumes and closes it."""

    def __init__(self) -> None:
        self.closed = False

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.closed = True

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


def make_pool(*, maxconn: int = 1, maxqueue: int = 2, queue_timeout: float = 1.0) -> Pool:
    backends = BackendSet(RoundRobin(), rise=2, fall=3)
    backends.add("http://127.0.0.1:9", up=True)
    return Pool(
        backends,
        maxconn=maxconn,
        maxqueue=maxqueue,
        queue_timeout=queue_timeout,
        connect_timeout=1.0,
        idle_timeout=30.0,
    )


def idle_connection(pool: Pool, transport: QuietTransport | None = None) -> UpstreamConnection:
    """An open connection to backend b1, idle in the pool, over ``transport`` (a quiet one)."""
    home = pool.of(pool.backends.backends["b1"])
    conn = UpstreamConnection(home)
    conn.connection_made(transport or QuietTransport())  # type: ignore[arg-type]
    home.idle.append(conn)
    return conn


def test_slots_are_taken_synchronously_up_to_maxconn() -> None:
    pool = make_pool(maxconn=1)
    backend = pool.backends.backends["b1"]
    conn = idle_connection(pool)
    idle_connection(pool)
    assert pool.has_slot(backend)
    assert pool.try_acquire(backend) is not None
    assert backend.active == 1
    assert not pool.has_slot(backend)
    assert pool.try_acquire(backend) is None
    pool.release(backend, conn, reusable=True, now=0.0)
    assert backend.active == 0
    assert conn in pool.of(backend).idle


async def test_a_freed_slot_goes_to_the_oldest_waiter_with_its_connection() -> None:
    pool = make_pool(maxconn=1)
    backend = pool.backends.backends["b1"]
    conn = idle_connection(pool)
    assert pool.try_acquire(backend) is conn
    first = asyncio.create_task(pool.acquire(backend))
    second = asyncio.create_task(pool.acquire(backend))
    await asyncio.sleep(0)
    assert len(pool.of(backend).waiters) == 2
    pool.release(backend, conn, reusable=True, now=0.0)
    assert await first is conn
    assert not second.done()
    assert backend.active == 1  # handed over, never freed
    second.cancel()
    with pytest.raises(asyncio.CancelledError):
        await second
    assert not pool.of(backend).waiters


async def test_a_full_queue_refuses_at_once() -> None:
    pool = make_pool(maxconn=1, maxqueue=0)
    backend = pool.backends.backends["b1"]
    idle_connection(pool)
    pool.try_acquire(backend)
    with pytest.raises(QueueFull) as refused:
        await pool.acquire(backend)
    assert refused.value.code == "backend_queue_full"
    assert refused.value.status == 503


async def test_a_wait_in_the_queue_is_bounded() -> None:
    pool = make_pool(maxconn=1, queue_timeout=0.05)
    backend = pool.backends.backends["b1"]
    idle_connection(pool)
    pool.try_acquire(backend)
    with pytest.raises(QueueFull) as expired:
        await pool.acquire(backend)
    assert expired.value.code == "queue_timeout"
    assert not pool.of(backend).waiters
    assert backend.active == 1


async def test_a_removed_backend_fails_its_queue() -> None:
    pool = make_pool(maxconn=1)
    backend = pool.backends.backends["b1"]
    idle_connection(pool)
    pool.try_acquire(backend)
    waiting = asyncio.create_task(pool.acquire(backend))
    await asyncio.sleep(0)
    pool.forget(backend)
    with pytest.raises(QueueFull, match="was removed"):
        await waiting


def test_reporting_on_a_removed_backend_does_not_bring_its_part_back() -> None:
    pool = make_pool()
    backend = pool.backends.backends["b1"]
    idle_connection(pool)
    pool.forget(backend)
    home = pool.peek(backend)
    assert not home.idle
    assert not home.waiters
    assert "backends=0" in repr(pool)
