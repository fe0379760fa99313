"""The exchange's rules without sockets: buffering, retries, the retry budget, timeouts of
the backend, and the timeout rules of client connections (tables of events → actions)."""

from __future__ import annotations

import pytest

from balancer.backends import Backend
from balancer.errors import ConnectFailed, NoBackend, UpstreamReset, UpstreamTimeout
from balancer.exchange import Action, ExchangeState, Phase, RetryBudget
from balancer.health import HealthState
from balancer.http11 import RequestHead
from balancer.timeouts import Expiry, backend_silent, client_expiry
from tests.balancer.test_http11 import parse

GET = b"GET / HTTP/1.1\r\nHost: t\r\n\r\n"
POST_SMALL = b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\n"
POST_LARGE = b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\n\r\n"
POST_CHUNKED = b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
PUT_SMALL = b"PUT / HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\n"


def head_of(raw: bytes) -> RequestHead:
    (head,) = parse(raw).heads()
    return head


def backend(name: str) -> Backend:
    return Backend(
        name, f"http://127.0.0.1:{len(name)}", weight=1, health=HealthState(rise=2, fall=3)
    )


def budget(active: int = 0) -> RetryBudget:
    retry_budget = RetryBudget(minimum=3, percent=20)
    retry_budget.active = active
    return retry_budget


@pytest.mark.parametrize(
    ("raw", "limit", "action", "phase"),
    [
        pytest.param(GET, 65536, Action.DISPATCH, Phase.CONNECTING, id="no-body"),
        pytest.param(POST_SMALL, 65536, Action.WAIT, Phase.BUFFERING, id="small-body-waits"),
        pytest.param(POST_CHUNKED, 65536, Action.WAIT, Phase.BUFFERING, id="chunked-waits"),
        pytest.param(POST_LARGE, 65536, Action.DISPATCH, Phase.CONNECTING, id="large-streams"),
        pytest.param(POST_SMALL, 0, Action.DISPATCH, Phase.CONNECTING, id="buffer-off"),
    ],
)
def test_begin_buffers_small_bodies(raw: bytes, limit: int, action: Action, phase: Phase) -> None:
    state = ExchangeState(head_of(raw))
    assert state.begin(limit) is action
    assert state.phase is phase


def test_begin_of_a_refused_request_fails() -> None:
    state = ExchangeState(None)
    assert state.begin(65536) is Action.FAIL
    assert isinstance(state.error, NoBackend)
    oversized = ExchangeState(head_of(POST_SMALL))
    oversized.body_size = 11
    assert oversized.body_over(10)
    assert oversized.begin(65536) is Action.FAIL
    assert oversized.error is not None
    assert oversized.error.status == 413


def test_a_body_that_arrived_while_queued_is_not_waited_for() -> None:
    state = ExchangeState(head_of(POST_SMALL))
    state.body_size = 10
    state.request_done = True
    assert state.begin(65536) is Action.DISPATCH


@pytest.mark.parametrize(
    ("events", "actions"),
    [
        pytest.param(["complete"], [Action.DISPATCH], id="whole-body-then-dispatch"),
        pytest.param(["outgrow", "complete"], [Action.DISPATCH, Action.WAIT], id="outgrown"),
        pytest.param(["outgrow", "outgrow"], [Action.DISPATCH, Action.WAIT], id="once"),
    ],
)
def test_buffering(events: list[str], actions: list[Action]) -> None:
    state = ExchangeState(head_of(POST_CHUNKED))
    state.begin(65536)
    seen = [state.request_complete() if e == "complete" else state.outgrew_buffer() for e in events]
    assert seen == actions


def test_replay_copies_are_kept_only_for_small_idempotent_bodies() -> None:
    put = ExchangeState(head_of(PUT_SMALL))
    assert put.keep_for_replay(10)
    assert not put.keep_for_replay(70_000)
    assert not put.replayable
    post = ExchangeState(head_of(POST_SMALL))
    assert not post.keep_for_replay(10)
    assert not post.replayable


@pytest.mark.parametrize(
    ("raw", "retries", "others", "busy", "action"),
    [
        pytest.param(GET, 2, True, 0, Action.DISPATCH, id="get-goes-to-the-next"),
        pytest.param(POST_SMALL, 2, True, 0, Action.DISPATCH, id="post-too-nothing-was-sent"),
        pytest.param(GET, 0, True, 0, Action.FAIL, id="no-retries-configured"),
        pytest.param(GET, 2, False, 0, Action.FAIL, id="no-backend-left"),
        pytest.param(GET, 2, True, 3, Action.FAIL, id="budget-exhausted"),
    ],
)
def test_connect_failure(raw: bytes, retries: int, others: bool, busy: int, action: Action) -> None:
    state = ExchangeState(head_of(raw))
    state.begin(0)
    retry_budget = budget(busy)
    b1 = backend("b1")
    got = state.connect_failed(
        b1, retries=retries, others=others, budget=retry_budget, in_flight=10
    )
    assert got is action
    assert state.tried == (b1,)
    assert retry_budget.refused == (1 if busy else 0)


def test_connect_failures_stop_after_the_configured_retries() -> None:
    state = ExchangeState(head_of(GET))
    state.begin(65536)
    retry_budget = budget()
    actions = [
        state.connect_failed(
            backend(f"b{i}"), retries=2, others=True, budget=retry_budget, in_flight=1
        )
        for i in range(3)
    ]
    assert actions == [Action.DISPATCH, Action.DISPATCH, Action.FAIL]
    assert retry_budget.active == 1  # one budget slot for all of the exchange's retries
    assert retry_budget.total == 2


@pytest.mark.parametrize(
    ("raw", "replayable", "retried", "busy", "action"),
    [
        pytest.param(GET, True, False, 0, Action.DISPATCH, id="get-retried-once"),
        pytest.param(GET, True, True, 0, Action.FAIL, id="get-not-twice"),
        pytest.param(GET, False, False, 0, Action.FAIL, id="body-too-big-to-replay"),
        pytest.param(GET, True, False, 3, Action.FAIL, id="budget-exhausted"),
        pytest.param(PUT_SMALL, True, False, 0, Action.DISPATCH, id="put-is-idempotent"),
        pytest.param(POST_SMALL, True, False, 0, Action.FAIL, id="post-never-replayed"),
    ],
)
def test_connection_lost_before_the_response(
    raw: bytes, replayable: bool, retried: bool, busy: int, action: Action
) -> None:
    state = ExchangeState(head_of(raw))
    state.begin(0)
    state.attached(backend("b1"))
    state.replayable = replayable
    state.reset_retried = retried
    assert state.connection_lost(others=True, budget=budget(busy), in_flight=10) is action
    if action is Action.FAIL:
        assert isinstance(state.error, UpstreamReset)
    else:
        assert state.phase is Phase.CONNECTING
        assert [b.id for b in state.tried] == ["b1"]


def test_a_lost_connection_to_the_only_backend_is_tried_once_more_on_it() -> None:
    state = ExchangeState(head_of(GET))
    state.begin(0)
    state.attached(backend("b1"))
    assert state.connection_lost(others=False, budget=budget(), in_flight=1) is Action.DISPATCH
    assert state.tried == ()
    state.attached(backend("b1"))
    assert state.connection_lost(others=False, budget=budget(), in_flight=1) is Action.FAIL


@pytest.mark.parametrize(("until_close", "action"), [(True, Action.FINISH), (False, Action.ABORT)])
def test_connection_lost_during_the_response(until_close: bool, action: Action) -> None:
    state = ExchangeState(head_of(GET))
    state.begin(0)
    state.attached(backend("b1"))
    state.response_head()
    state.until_close = until_close
    assert state.connection_lost(others=True, budget=budget(), in_flight=1) is action


def test_a_dead_pooled_connection_is_written_to_again_three_times() -> None:
    state = ExchangeState(head_of(POST_SMALL))
    state.begin(0)
    b1 = backend("b1")
    actions = []
    for _ in range(4):
        state.attached(b1)
        actions.append(state.write_failed(b1))
    assert actions == [Action.DISPATCH] * 3 + [Action.FAIL]
    assert isinstance(state.error, ConnectFailed)


@pytest.mark.parametrize(("begun", "action"), [(False, Action.FAIL), (True, Action.ABORT)])
def test_backend_timeout(begun: bool, action: Action) -> None:
    state = ExchangeState(head_of(GET))
    state.begin(0)
    state.attached(backend("b1"))
    if begun:
        state.response_head()
    assert state.timed_out() is action
    assert isinstance(state.error, UpstreamTimeout)
    assert state.error.status == 504


@pytest.mark.parametrize(("request_done", "action"), [(True, Action.FINISH), (False, Action.DROP)])
def test_response_complete(request_done: bool, action: Action) -> None:
    state = ExchangeState(head_of(POST_SMALL))
    state.request_done = request_done
    assert state.response_complete() is action


@pytest.mark.parametrize(
    ("in_flight", "active", "allowed"),
    [(0, 2, True), (0, 3, False), (100, 19, True), (100, 20, False)],
)
def test_retry_budget(in_flight: int, active: int, allowed: bool) -> None:
    retry_budget = budget(active)
    state = ExchangeState(head_of(GET))
    assert retry_budget.take(state, in_flight) is allowed
    assert state.retrying is allowed
    retry_budget.give_back(state)
    assert retry_budget.active == active


# Client timeouts: body 30, request 60, header 10, keep-alive 75 (seconds).
LIMITS = {"body_timeout": 30.0, "request_timeout": 60.0, "header_timeout": 10.0}
LIMITS["keepalive_timeout"] = 75.0
QUIET: dict[str, object] = {"reading_body": False, "body_at": 0.0, "request_since": 0.0}
QUIET |= {"busy": False, "head_since": None, "received": False, "idle_since": 0.0}


@pytest.mark.parametrize(
    ("now", "state", "expiry"),
    [
        pytest.param(29, {"reading_body": True}, Expiry.NONE, id="body-in-time"),
        pytest.param(31, {"reading_body": True}, Expiry.REQUEST, id="body-silent"),
        pytest.param(61, {"reading_body": True, "body_at": 59}, Expiry.REQUEST, id="drip-body"),
        pytest.param(31, {"reading_body": True, "busy": True}, Expiry.REQUEST, id="body-busy"),
        pytest.param(11, {"head_since": 0.0, "received": True}, Expiry.HEAD, id="slowloris"),
        pytest.param(11, {"head_since": 0.0}, Expiry.ABANDONED, id="said-nothing"),
        pytest.param(9, {"head_since": 0.0, "received": True}, Expiry.NONE, id="head-in-time"),
        pytest.param(11, {"head_since": 0.0, "busy": True}, Expiry.NONE, id="waiting-on-backend"),
        pytest.param(76, {}, Expiry.IDLE, id="idle"),
        pytest.param(74, {}, Expiry.NONE, id="not-idle-yet"),
        pytest.param(500, {"busy": True}, Expiry.NONE, id="busy-never-idle"),
    ],
)
def test_client_timeouts(now: float, state: dict[str, object], expiry: Expiry) -> None:
    assert client_expiry(now, **(QUIET | state), **LIMITS) is expiry  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("now", "client_slow", "silent"), [(29, False, False), (31, False, True), (31, True, False)]
)
def test_backend_silence(now: float, client_slow: bool, silent: bool) -> None:
    assert backend_silent(now, last_io=0.0, server_timeout=30, client_slow=client_slow) is silent
