"""The exchange's executor: carries out what :class:`~balancer.exchange.ExchangeState`
decides, with sockets, tasks and the pool.

A request body of up to ``request_buffer`` bytes is read in full first (so a slow upload
holds no backend slot); then :class:`~balancer.dispatch.Dispatching` picks a backend and
writes the rewritten head and the body on a pooled connection (what exceeds the buffer is
streamed), and this module relays the response and answers failures. It is one object per
request, subclassing the rules' state, so the hot path allocates nothing more.
"""

from __future__ import annotations

from time import perf_counter
from typing import Final

from balancer.context import BODY_WAIT, UPSTREAM_FULL
from balancer.dispatch import Dispatching
from balancer.errors import BadResponse, HttpError
from balancer.exchange import DISPATCH, DONE, FAIL, FINISH, QUEUED, REPLAY_LIMIT
from balancer.http11 import ResponseHead
from balancer.logs import log_request
from balancer.rewrite import (
    CONTINUE,
    client_framing,
    client_response_head,
    error_response,
    server_timing,
    upstream_request_head,
)
from balancer.upstream import UpstreamConnection

_LAST_CHUNK: Final = b"0\r\n\r\n"


class Exchange(Dispatching):
    """One request on a client connection, from its parsed head to its last response byte."""

    __slots__ = ()

    def bind(self, upstream: UpstreamConnection) -> None:
        upstream.user = self
        upstream.parser.sink = self

    # --- request side ------------------------------------------------------------------

    def start(self) -> None:
        """Become the active exchange of the connection: dispatch the request."""
        ctx = self.ctx
        ctx.in_flight += 1
        action = self.begin(ctx.request_buffer)
        if action is FAIL:
            assert self.error is not None
            self.fail(self.error)
            return
        head = self.head
        assert head is not None
        self.request_id, self.upstream_head = upstream_request_head(
            head, client_ip=self.conn.client_ip, proto=ctx.proto, ids=ctx.ids
        )
        if ctx.tracer is not None:
            self.upstream_head = ctx.tracer.begin(self, head, self.upstream_head)
        if head.expect_continue and not self.request_done:
            self.conn.write(CONTINUE)
        if action is DISPATCH:
            self.dispatch()

    def request_body(self, data: bytes) -> None:
        head = self.head
        assert head is not None
        size = self.body_size = self.body_size + len(data)
        if self.body_over(self.ctx.max_body_size):
            self.conn.stop_reading()
            if self.phase is not QUEUED and self.phase is not DONE:
                assert self.error is not None
                self.fail(self.error)
            return
        if self.response_done or self.error is not None:
            return
        if head.chunked:
            data = b"%x\r\n" % len(data) + data + b"\r\n"
        upstream = self.upstream
        if upstream is not None and upstream.transport is not None:
            upstream.transport.write(data)
            upstream.sent_at = self.ctx.clock
            if self.replayable:
                if self.keep_for_replay(size):
                    self.body.append(data)
                else:
                    self.body.clear()
        else:
            self.body.append(data)
            if size > REPLAY_LIMIT:
                self.replayable = False
                if size > self.ctx.body_buffer_cap:
                    self.conn.pause_reading(BODY_WAIT)
                    if self.outgrew_buffer() is DISPATCH:
                        self.dispatch()

    def request_end(self) -> None:
        head = self.head
        if head is not None and head.chunked and not self.response_done:
            upstream = self.upstream
            if upstream is not None and upstream.transport is not None:
                upstream.transport.write(_LAST_CHUNK)
            if upstream is None or self.replayable:
                self.body.append(_LAST_CHUNK)
        action = self.request_complete()
        if action is DISPATCH:
            self.dispatch()
        elif action is FINISH:
            self.finish()

    # --- response side (the ResponseParser sink) --------------------------------------

    def on_response(self, head: ResponseHead) -> None:
        status = head.status
        if status < 200:
            self.informational = True
            return
        self.response = head
        self.response_head()
        request = self.head
        assert request is not None
        backend = self.backend
        assert backend is not None
        if status >= 500:
            self.ctx.note_failure(backend)
        else:
            backend.streak = 0
        chunk, close, self.until_close = client_framing(
            request, head, close=self.close_after or self.ctx.shutting_down
        )
        self.chunk_out = chunk
        self.close_after = close
        self.conn.out.append(
            client_response_head(
                head,
                request_id=self.request_id,
                chunked=chunk,
                close=close,
                http10=request.version == "1.0",
                timing=server_timing(
                    self.queue_time, self.connect_time, perf_counter() - self.sent_at
                ),
            )
        )
        if request.method == b"HEAD" and head.content_length != 0:
            # llhttp cannot be told this response has no body: end it here and do not reuse
            # the connection, whose parser would wait for the announced body.
            head.keep_alive = False
            self.on_response_end()

    def on_response_body(self, data: bytes) -> None:
        upstream = self.upstream
        if upstream is not None:
            upstream.sent_at = self.ctx.clock
        if self.chunk_out:
            self.conn.out += (b"%x\r\n" % len(data), data, b"\r\n")
        else:
            self.conn.out.append(data)

    def on_response_end(self) -> None:
        if self.informational:
            self.informational = False
            return
        if self.response_done:
            return
        action = self.response_complete()
        conn = self.conn
        if self.chunk_out:
            conn.out.append(_LAST_CHUNK)
        conn.flush()
        if action is FINISH:
            self.finish()
        else:
            # The backend answered before the whole body arrived: the rest is discarded and
            # the upstream connection, now out of step, is closed.
            self._release(reusable=False)

    def flush(self) -> None:
        conn = self.conn
        if conn.out:
            conn.flush()

    def pause_client(self) -> None:
        self.conn.pause_reading(UPSTREAM_FULL)

    def resume_client(self) -> None:
        self.conn.resume_reading(UPSTREAM_FULL)

    # --- failures -----------------------------------------------------------------------

    def upstream_lost(self, exc: Exception | None) -> None:
        """The upstream connection closed while this exchange was using it."""
        if self.response_done:
            return
        backend = self.backend
        assert backend is not None
        ctx = self.ctx
        if self.response_begun:
            if self.until_close:
                self.on_response_end()
            else:
                ctx.note_failure(backend)
                self._release(reusable=False)
                self.conn.abort()
            return
        self.upstream = None
        ctx.note_failure(backend)
        ctx.pool.release(backend, None, reusable=False, now=0.0)
        action = self.connection_lost(
            others=ctx.others_available((*self.tried, backend)),
            budget=ctx.retry_budget,
            in_flight=ctx.in_flight,
        )
        self.carry_out(action)

    def upstream_failed(self, exc: BadResponse) -> None:
        backend = self.backend
        if backend is not None:
            self.ctx.note_failure(backend)
        self._release(reusable=False)
        if self.response is None:
            self.fail(exc)
        else:
            self.conn.abort()

    def backend_timed_out(self) -> None:
        """The backend was silent for the server timeout (seen by the sweeper)."""
        backend = self.backend
        if backend is not None:
            self.ctx.note_failure(backend)
        self._release(reusable=False)
        self.timed_out()
        assert self.error is not None
        self.fail(self.error)

    def fail(self, error: HttpError) -> None:
        """End the exchange with a JSON error, or cut the client off if a response began."""
        ctx = self.ctx
        ctx.count_error(error.code)
        self._release(reusable=False)
        if self.task is not None:
            self.task.cancel()
            self.task = None
        if self.response is not None:
            self.conn.abort()
            return
        if not self.request_id:
            self.request_id = ctx.ids.next()
        if not self.request_done:
            self.close_after = True
            self.conn.stop_reading()
        head = self.head
        self.conn.write(
            error_response(
                error.status,
                error.code,
                error.message,
                request_id=self.request_id,
                retry_after=1 if error.status == 503 else None,
                close=self.close_after,
                http10=head is not None and head.version == "1.0",
                head_only=head is not None and head.method == b"HEAD",
                timing=self._error_timing(),
            )
        )
        self.response_done = True
        self.request_done = True
        self.finish(status=error.status)

    # --- completion ---------------------------------------------------------------------

    def finish(self, status: int = 0) -> None:
        if self.phase is QUEUED or self.phase is DONE:
            return
        self.phase = DONE
        ctx = self.ctx
        ctx.in_flight -= 1
        if self.retrying:
            ctx.retry_budget.give_back(self)
        response = self.response
        backend = self.backend
        if response is not None and backend is not None:
            status = response.status
            self._release(reusable=response.keep_alive and not self.until_close)
            backend.record(status, ctx.loop.time() - self.started)
        if ctx.tracer is not None:
            ctx.tracer.end(self, status)
        if ctx.access_log:
            head = self.head
            log_request(
                request_id=self.request_id,
                client=self.conn.client_ip,
                backend=backend.id if backend is not None else None,
                method=head.method if head is not None else b"-",
                path=head.target if head is not None else b"-",
                status=status,
                duration=ctx.loop.time() - self.started,
            )
        self.conn.exchange_done(self)

    def client_gone(self) -> None:
        """The client connection closed: stop everything this exchange holds."""
        if self.task is not None:
            self.task.cancel()
            self.task = None
        self._release(reusable=False)
        if self.phase is not QUEUED and self.phase is not DONE:
            self.ctx.in_flight -= 1
            self.ctx.retry_budget.give_back(self)
        self.phase = DONE
