"""The rules of one request/response exchange, as a sans-io state machine (no sockets).

:class:`ExchangeState` holds what the rules need — the phase, the backends tried, the
body's size, whether a retry is still allowed — and its methods take *events* (started,
body received, request complete, connect failed, write failed, response head, response
complete, connection lost, timed out) and return an :class:`Action` for the executor
(:mod:`balancer.forward`) to carry out: dispatch, wait, retry, fail, abort, finish. The
executor does the I/O and nothing else decides; tests drive these rules without sockets.

Phases::

    QUEUED ──begin──▶ BUFFERING ──body here / over the buffer──▶ CONNECTING
       │                                                        ▲    │ attached
       └──begin (no body to wait for)───────────────────────────┘    ▼
                   (retry: back to CONNECTING)  ◀── lost/unsent ── SENT
                                                                     │ response head
    DONE ◀── finish / fail / client gone ── RESPONDING ◀─────────────┘

Retry rules: a connection that could not be made goes to the next backend whatever the
method; an idempotent request whose connection broke before any response byte is retried
once; anything else that reached a backend — a POST above all — is never replayed. A
request written to a pooled connection that turned out dead went nowhere and is sent again
(up to three times). Retries also need room in the :class:`RetryBudget`.
"""

from __future__ import annotations

from enum import Enum
from typing import Final

from balancer.backends import Backend
from balancer.errors import ConnectFailed, HttpError, NoBackend, UpstreamReset, UpstreamTimeout
from balancer.http11 import RequestHead

# Request bodies up to this size are kept so an idempotent request can be replayed.
REPLAY_LIMIT: Final = 64 * 1024
# A pooled connection found dead on writing: how many times the request is sent again.
MAX_UNSENT: Final = 3


class Phase(Enum):
    QUEUED = "queued"  # behind earlier requests on its client connection
    BUFFERING = "buffering"  # reading a small body before a backend is chosen
    CONNECTING = "connecting"  # waiting for a backend slot or connection
    SENT = "sent"  # written to a backend; no response head yet
    RESPONDING = "responding"  # the response head went to the client; its body follows
    DONE = "done"


#: Phases in which the exchange is its connection's current one and counts as in flight.
IN_FLIGHT: Final = frozenset({Phase.BUFFERING, Phase.CONNECTING, Phase.SENT, Phase.RESPONDING})


class Action(Enum):
    WAIT = "wait"  # nothing to do until the next event
    DISPATCH = "dispatch"  # choose a backend and get a connection (again, for a retry)
    FAIL = "fail"  # answer ``error`` (a JSON error response)
    ABORT = "abort"  # a response already began: cut the client connection
    FINISH = "finish"  # the exchange is complete
    DROP = "drop"  # the response is complete but the request is not: close the upstream


# The members under plain names, for the hot path: an Enum member looked up on its class
# costs several times a global name, and a set lookup calls Enum's Python-level __hash__.
# Final: compiled, they are read from a C static instead of the module's dictionary.
QUEUED: Final = Phase.QUEUED
BUFFERING: Final = Phase.BUFFERING
CONNECTING: Final = Phase.CONNECTING
SENT: Final = Phase.SENT
RESPONDING: Final = Phase.RESPONDING
DONE: Final = Phase.DONE
WAIT: Final = Action.WAIT
DISPATCH: Final = Action.DISPATCH
FAIL: Final = Action.FAIL
ABORT: Final = Action.ABORT
FINISH: Final = Action.FINISH
DROP: Final = Action.DROP


class RetryBudget:
    """Envoy-style budget: concurrent retries ≤ max(``minimum``, ``percent`` of requests in
    flight). An exchange takes one slot for all its retries and gives it back at its end."""

    __slots__ = ("active", "minimum", "percent", "refused", "total")

    def __init__(self, *, minimum: int, percent: float) -> None:
        self.minimum = minimum
        self.percent = percent
        self.active = 0
        self.total = 0
        self.refused = 0

    def take(self, exchange: ExchangeState, in_flight: int) -> bool:
        if exchange.retrying:
            self.total += 1
            return True
        if self.active >= max(self.minimum, in_flight * self.percent / 100):
            self.refused += 1
            return False
        exchange.retrying = True
        self.active += 1
        self.total += 1
        return True

    def give_back(self, exchange: ExchangeState) -> None:
        if exchange.retrying:
            exchange.retrying = False
            self.active -= 1


class ExchangeState:
    """The decisions of one exchange (see the module docstring); no I/O."""

    __slots__ = (
        "backend",
        "body_size",
        "close_after",
        "error",
        "head",
        "phase",
        "replayable",
        "request_done",
        "reset_retried",
        "response_begun",
        "response_done",
        "retrying",
        "span",
        "tried",
        "unsent",
        "until_close",
    )

    def __init__(self, head: RequestHead | None) -> None:
        self.head = head
        self.span: object = None  # the exchange's trace span (balancer.tracing), when traced
        self.phase = QUEUED
        self.error: HttpError | None = None
        self.backend: Backend | None = None
        self.tried: tuple[Backend, ...] = ()
        self.retrying = False
        self.reset_retried = False
        self.unsent = 0
        self.body_size = 0
        self.replayable = True
        self.request_done = False
        self.response_begun = False
        self.response_done = False
        self.until_close = False
        self.close_after = head is None or not head.keep_alive

    # --- request side ------------------------------------------------------------------

    def begin(self, buffer_limit: int) -> Action:
        """The exchange became its connection's current one. DISPATCH, WAIT (buffering a
        body of at most ``buffer_limit`` bytes first, so it costs no backend slot) or FAIL."""
        head = self.head
        if head is None or self.error is not None:
            self.phase = CONNECTING
            self.error = self.error or NoBackend("request refused")
            return FAIL
        if (
            buffer_limit
            and not self.request_done
            and head.has_body
            and self.body_size <= buffer_limit
            and (head.chunked or (head.content_length or 0) <= buffer_limit)
        ):
            self.phase = BUFFERING
            return WAIT
        self.phase = CONNECTING
        return DISPATCH

    def body_over(self, max_body_size: int) -> bool:
        """Whether the body received so far is over the limit; then ``error`` is a 413."""
        if max_body_size and self.body_size > max_body_size:
            self.error = HttpError("request body too large", status=413, code="body_too_large")
            return True
        return False

    def outgrew_buffer(self) -> Action:
        """More body than may be held back arrived: a buffering exchange dispatches now."""
        if self.phase is BUFFERING:
            self.phase = CONNECTING
            return DISPATCH
        return WAIT

    def keep_for_replay(self, size: int) -> bool:
        """Whether body bytes already sent on must still be kept (an idempotent request may
        be replayed while its body is small)."""
        if self.replayable:
            head = self.head
            if size <= REPLAY_LIMIT and head is not None and head.idempotent:
                return True
            self.replayable = False
        return False

    def request_complete(self) -> Action:
        """The last body byte arrived: DISPATCH a buffered request, FINISH an exchange whose
        response is already complete, else WAIT."""
        self.request_done = True
        if self.phase is BUFFERING and self.error is None and not self.response_done:
            self.phase = CONNECTING
            return DISPATCH
        if self.response_done and self.phase is not QUEUED and self.phase is not DONE:
            return FINISH
        return WAIT

    # --- upstream -----------------------------------------------------------------------

    def attached(self, backend: Backend) -> None:
        self.backend = backend
        self.phase = SENT

    def connect_failed(
        self, backend: Backend, *, retries: int, others: bool, budget: RetryBudget, in_flight: int
    ) -> Action:
        """No connection to ``backend`` could be made: nothing was sent, so any method goes
        to another backend (``others``: one is left untried), within ``retries``."""
        self.tried += (backend,)
        self.backend = None
        if (
            len(self.tried) <= retries
            and self.phase is CONNECTING
            and others
            and budget.take(self, in_flight)
        ):
            return DISPATCH
        return FAIL

    def write_failed(self, backend: Backend) -> Action:
        """The pooled connection was dead when the request was written: nothing went out,
        so it is sent again, whatever the method (a few times at most)."""
        self.backend = None
        self.phase = CONNECTING
        self.unsent += 1
        if self.unsent > MAX_UNSENT:
            self.error = ConnectFailed(f"cannot send the request to backend {backend.id}")
            return FAIL
        return DISPATCH

    def response_head(self) -> None:
        self.response_begun = True
        self.phase = RESPONDING

    def response_complete(self) -> Action:
        """FINISH when the request is complete too; else DROP the upstream connection,
        which the rest of an unread request body would put out of step."""
        self.response_done = True
        return FINISH if self.request_done else DROP

    def connection_lost(self, *, others: bool, budget: RetryBudget, in_flight: int) -> Action:
        """The backend connection closed under the exchange (not by a timeout)."""
        if self.response_begun:
            # A body delimited by the close is complete; any other is cut short.
            return FINISH if self.until_close else ABORT
        backend = self.backend
        assert backend is not None
        self.tried += (backend,)
        self.backend = None
        head = self.head
        assert head is not None
        if (
            head.idempotent
            and not self.reset_retried
            and self.replayable
            and budget.take(self, in_flight)
        ):
            self.reset_retried = True
            self.phase = CONNECTING
            if not others:
                # The only backend: a fresh connection to it is still worth one try, since a
                # reused keep-alive connection may simply have been closed by the backend.
                self.tried = ()
            return DISPATCH
        self.error = UpstreamReset("the backend closed the connection before responding")
        return FAIL

    def timed_out(self) -> Action:
        """The backend was silent for the server timeout: 504 before the response began,
        a cut-off client connection after."""
        self.error = UpstreamTimeout("the backend did not respond in time")
        return ABORT if self.response_begun else FAIL

    def __repr__(self) -> str:
        head = self.head
        what = f"{head.method.decode()} {head.target.decode('latin-1')}" if head else "error"
        return f"<{type(self).__name__} {what} {self.phase.value} backend={self.backend}>"
