"""Upstream connections: the asyncio Protocol of one keep-alive connection to a backend, and
:class:`BackendPool`, the state the pool keeps per backend (idle connections, open count,
queued requests). The decisions about them are :mod:`balancer.pool`'s.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Protocol, cast

from balancer.backends import Backend
from balancer.errors import BadResponse
from balancer.http11 import ResponseParser, ResponseSink


class UpstreamUser(ResponseSink, Protocol):
    """What an exchange offers the upstream connection it is attached to."""

    def flush(self) -> None: ...
    def upstream_lost(self, exc: Exception | None) -> None: ...
    def upstream_failed(self, exc: BadResponse) -> None: ...
    def pause_client(self) -> None: ...
    def resume_client(self) -> None: ...


class BackendPool:
    """One backend's part of the pool: its idle keep-alive connections, how many of its
    connections are open, and the requests queued for one of its slots."""

    __slots__ = ("backend", "idle", "open", "waiters")

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.idle: list[UpstreamConnection] = []
        self.open = 0
        self.waiters: deque[asyncio.Future[UpstreamConnection | None]] = deque()

    def __repr__(self) -> str:
        return (
            f"<BackendPool {self.backend.id} open={self.open} idle={len(self.idle)} "
            f"queued={len(self.waiters)}>"
        )


class UpstreamConnection(asyncio.Protocol):
    """One keep-alive connection to a backend, used by one exchange at a time."""

    def __init__(self, home: BackendPool) -> None:
        self.home = home
        self.transport: asyncio.Transport | None = None
        self.parser = ResponseParser()
        self.user: UpstreamUser | None = None
        self.idle_since = 0.0
        # Last time bytes went to or came from the backend for the current exchange.
        self.sent_at = 0.0
        # Seconds it took to open; the first exchange on it reports them, then they are 0.
        self.connect_time = 0.0
        self.closed = False
        # Paused for a slow client: remembered, so releasing an unpaused connection (nearly
        # every one) costs no call into the transport.
        self.reading_paused = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it.
        self.transport = transport = cast(asyncio.Transport, transport)
        self.home.open += 1

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
        home = self.home
        home.open -= 1
        user = self.user
        if user is not None:
            self.user = None
            user.upstream_lost(exc)
        elif self in home.idle:
            home.idle.remove(self)

    def pause_writing(self) -> None:
        if self.user is not None:
            self.user.pause_client()

    def resume_writing(self) -> None:
        if self.user is not None:
            self.user.resume_client()

    def pause_reading(self) -> None:
        if self.transport is not None and not self.reading_paused:
            self.reading_paused = True
            self.transport.pause_reading()

    def resume_reading(self) -> None:
        if self.transport is not None and self.reading_paused:
            self.reading_paused = False
            self.transport.resume_reading()

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
        return f"<UpstreamConnection {self.home.backend.id} {state}>"
