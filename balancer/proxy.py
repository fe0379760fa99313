"""The client side: an asyncio Protocol per client connection around the sans-io parser.

Requests on a connection are answered in order. Pipelined requests wait (bodies buffered,
reading paused beyond a small depth) until the one before them has its complete response.
Flow control pauses reading on one side while the other side's write buffer is full.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import TYPE_CHECKING, Final, cast

from balancer.context import PIPELINE_FULL, STOPPED, ClientSide, ProxyContext
from balancer.errors import HttpError, ProtocolError
from balancer.exchange import IN_FLIGHT, Phase
from balancer.forward import Exchange
from balancer.http11 import RequestHead, RequestParser
from balancer.rewrite import error_response
from balancer.timeouts import Expiry, backend_silent, client_expiry
from balancer.upstream import UpstreamConnection

if TYPE_CHECKING:
    from balancer.config import BalancerConfig

logger = logging.getLogger("balancer.proxy")

PIPELINE_DEPTH: Final = 16
#: How long a client that is still sending when its connection is closed gets to read the
#: answer: the balancer half-closes, discards what arrives, and closes at the client's EOF
#: or after this (nginx's lingering close). Closing at once with unread input makes the
#: kernel send a reset, which can destroy the 408/413 the client has not read yet.
LINGER_S: Final = 2.0


class ClientConnection(ClientSide):
    """One client connection: parses requests and runs their exchanges one after another."""

    def __init__(self, ctx: ProxyContext) -> None:
        # Named, not super(): mypyc compiles the named call to a direct one.
        ClientSide.__init__(self)
        self.ctx = ctx
        self.transport: asyncio.Transport | None = None
        self.parser = RequestParser(self, max_header_size=ctx.config.max_header_size)
        self.exchanges: deque[Exchange] = deque()
        self.parsing: Exchange | None = None
        self.head_since: float | None = None
        # When the request being read began: the whole of it must arrive in request_timeout.
        self.request_since = 0.0
        self.body_at = 0.0
        self.idle_since = 0.0
        self.received = False
        self.closed = False
        self.eof = False
        self.lingering = False

    def busy(self) -> bool:
        return bool(self.exchanges)

    @property
    def active(self) -> Exchange | None:
        return self.exchanges[0] if self.exchanges else None

    # --- asyncio.Protocol ---------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it.
        self.transport = transport = cast(asyncio.Transport, transport)
        peer = transport.get_extra_info("peername")
        self.client_ip = str(peer[0]).encode() if peer else b"unknown"
        ctx = self.ctx
        self.head_since = self.idle_since = ctx.clock
        ctx.clients.add(self)
        ctx.connections_total += 1
        if ctx.shutting_down:
            transport.close()
            return
        counts = ctx.connections_by_address
        open_now = counts[self.client_ip] = counts.get(self.client_ip, 0) + 1
        if ctx.max_client_connections and open_now > ctx.max_client_connections:
            # One address may not take every connection (and the memory behind them).
            ctx.count_error("too_many_connections")
            self.paused |= STOPPED
            transport.write(
                error_response(
                    503,
                    "too_many_connections",
                    "too many open connections from this address",
                    retry_after=1,
                    close=True,
                )
            )
            transport.close()

    def data_received(self, data: bytes) -> None:
        if self.paused & STOPPED:
            return
        parser = self.parser
        try:
            parser.feed(data)
        except ProtocolError as exc:
            self._protocol_error(exc)
            return
        if parser.in_head:
            self.received = True
            if self.head_since is None:
                self.head_since = self.ctx.clock

    def eof_received(self) -> bool:
        # A half-closed client still gets the responses to what it sent; but a request
        # whose body it broke off can never complete, so the connection ends with it
        # (else the backend would hold a slot waiting for the rest until its own timeout).
        self.eof = True
        if self.lingering:
            return False  # the client has read the answer and is done: close now
        return bool(self.exchanges) and self.parsing is None

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        ctx = self.ctx
        ctx.clients.discard(self)
        counts = ctx.connections_by_address
        left = counts.get(self.client_ip, 0) - 1
        if left > 0:
            counts[self.client_ip] = left
        else:
            counts.pop(self.client_ip, None)
        if ctx.shutting_down and not ctx.clients:
            ctx.all_closed.set()
        exchanges = self.exchanges
        while exchanges:
            exchanges.popleft().client_gone()
        self.parsing = None

    def pause_writing(self) -> None:
        self.writing_paused = True
        upstream = self._upstream()
        if upstream is not None:
            upstream.pause_reading()

    def resume_writing(self) -> None:
        self.writing_paused = False
        upstream = self._upstream()
        if upstream is not None:
            upstream.resume_reading()

    def _upstream(self) -> UpstreamConnection | None:
        """The backend connection the current response comes from, if any."""
        exchange = self.active
        return None if exchange is None else exchange.upstream

    # --- RequestParser sink -----------------------------------------------------------

    def on_request(self, head: RequestHead) -> None:
        if self.paused & STOPPED:
            # The connection is closing after an error; requests pipelined behind the one
            # that failed, parsed from the same read, are not served.
            self.parsing = None
            return
        clock = self.ctx.clock
        self.request_since = clock if self.head_since is None else self.head_since
        self.head_since = None
        self.received = False
        self.body_at = clock
        exchange = Exchange(self, self.ctx, head)
        limit = self.ctx.max_body_size
        if limit and head.content_length is not None and head.content_length > limit:
            exchange.error = HttpError("request body too large", status=413, code="body_too_large")
            self.stop_reading()
        self.parsing = exchange
        exchanges = self.exchanges
        exchanges.append(exchange)
        if len(exchanges) == 1:
            exchange.start()
        elif len(exchanges) >= PIPELINE_DEPTH:
            self.pause_reading(PIPELINE_FULL)

    def on_request_body(self, data: bytes) -> None:
        exchange = self.parsing
        if exchange is not None:
            self.body_at = self.ctx.clock
            exchange.request_body(data)

    def on_request_end(self) -> None:
        exchange = self.parsing
        if exchange is not None:
            self.parsing = None
            exchange.request_end()

    # --- used by exchanges --------------------------------------------------------------

    def write(self, data: bytes) -> None:
        if self.out:
            self.flush()
        transport = self.transport
        if transport is not None and not self.closed:
            transport.write(data)

    def flush(self) -> None:
        out = self.out
        if out:
            transport = self.transport
            if transport is not None and not self.closed:
                transport.write(out[0] if len(out) == 1 else b"".join(out))
            out.clear()

    def exchange_done(self, exchange: Exchange) -> None:
        exchanges = self.exchanges
        if not exchanges or exchanges[0] is not exchange:
            return
        exchanges.popleft()
        if self.out:
            self.flush()
        if exchange.close_after or self.closed or (self.eof and not exchanges):
            self.close()
            return
        if self.paused & PIPELINE_FULL and len(exchanges) < PIPELINE_DEPTH // 2:
            self.resume_reading(PIPELINE_FULL)
        if exchanges:
            exchanges[0].start()
        else:
            self.idle_since = self.ctx.clock
            if self.ctx.shutting_down:
                self.close()

    def pause_reading(self, reason: int) -> None:
        if not self.paused and self.transport is not None and not self.closed:
            self.transport.pause_reading()
        self.paused |= reason

    def resume_reading(self, reason: int) -> None:
        was = self.paused
        self.paused &= ~reason
        if was and not self.paused and self.transport is not None and not self.closed:
            self.transport.resume_reading()

    def stop_reading(self) -> None:
        """Read nothing more: the connection closes after the pending responses."""
        self.pause_reading(STOPPED)
        if self.parsing is not None:
            self.parsing.close_after = True

    def close(self) -> None:
        self.flush()
        transport = self.transport
        if transport is None or self.closed or self.lingering:
            return
        if self.eof or not transport.can_write_eof():
            transport.close()
            return
        # The client may still be sending (a body cut off by a 408 or 413): half-close so
        # it reads the answer and our EOF, throw away what it sends, close at its EOF.
        self.lingering = True
        self.pause_reading(STOPPED)
        transport.write_eof()
        transport.resume_reading()
        self.ctx.loop.call_later(LINGER_S, transport.close)

    def abort(self) -> None:
        self.out.clear()
        if self.transport is not None and not self.closed:
            self.transport.abort()

    # --- timeouts and errors --------------------------------------------------------------

    def sweep(self, now: float, config: BalancerConfig) -> None:
        """Periodic check of this connection's timeouts and of its backend's silence."""
        self.check_timeouts(now, config)
        exchange = self.active
        if exchange is not None:
            upstream = exchange.upstream
            if upstream is not None and backend_silent(
                now,
                last_io=upstream.sent_at,
                server_timeout=config.server_timeout,
                client_slow=self.writing_paused,
            ):
                exchange.backend_timed_out()

    def check_timeouts(self, now: float, config: BalancerConfig) -> None:
        if self.closed:
            return
        expiry = client_expiry(
            now,
            reading_body=self.parsing is not None,
            body_at=self.body_at,
            request_since=self.request_since,
            busy=bool(self.exchanges),
            head_since=self.head_since,
            received=self.received,
            idle_since=self.idle_since,
            body_timeout=config.body_timeout,
            request_timeout=config.request_timeout,
            header_timeout=config.header_timeout,
            keepalive_timeout=config.keepalive_timeout,
        )
        if expiry is Expiry.NONE:
            return
        if expiry is Expiry.REQUEST:
            # A client that stops sending a body it announced, or sends it a byte at a time,
            # would otherwise keep its request (and, once streamed, a backend slot) open
            # for as long as it likes.
            self.ctx.count_error("request_timeout")
            self._protocol_error(
                ProtocolError(
                    "request body not received in time", status=408, code="request_timeout"
                )
            )
            return
        if expiry is Expiry.HEAD:
            self.ctx.count_error("request_timeout")
            self.write(
                error_response(
                    408, "request_timeout", "request header not received in time", close=True
                )
            )
        if expiry is not Expiry.IDLE:
            self.stop_reading()
        self.close()

    def _protocol_error(self, error: ProtocolError) -> None:
        self.stop_reading()
        parsing = self.parsing
        if parsing is not None:
            # The request whose body was being read broke off.
            parsing.close_after = True
            if parsing.phase is Phase.QUEUED:
                parsing.error = error
            elif parsing.phase in IN_FLIGHT and parsing.response is None:
                parsing.fail(error)
            else:
                self.abort()
            return
        exchange = Exchange(self, self.ctx, None)
        exchange.error = error
        self.exchanges.append(exchange)
        if len(self.exchanges) == 1:
            exchange.start()

    def __repr__(self) -> str:
        return f"<ClientConnection {self.client_ip.decode()} exchanges={len(self.exchanges)}>"
