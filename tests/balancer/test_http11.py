"""Sans-io request and response parsing: edge cases, no sockets."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from balancer.errors import BadResponse, ProtocolError
from balancer.http11 import RequestHead, RequestParser, ResponseHead, ResponseParser


class Events:
    def __init__(self) -> None:
        self.events: list[tuple[str, object]] = []

    def on_request(self, head: RequestHead) -> None:
        self.events.append(("head", head))

    def on_request_body(self, data: bytes) -> None:
        self.events.append(("body", data))

    def on_request_end(self) -> None:
        self.events.append(("end", None))

    def on_response(self, head: ResponseHead) -> None:
        self.events.append(("head", head))

    def on_response_body(self, data: bytes) -> None:
        self.events.append(("body", data))

    def on_response_end(self) -> None:
        self.events.append(("end", None))

    def heads(self) -> list[RequestHead]:
        return [e for kind, e in self.events if kind == "head"]  # type: ignore[misc]

    def body(self) -> bytes:
        return b"".join(e for kind, e in self.events if kind == "body")  # type: ignore[misc]

    def kinds(self) -> list[str]:
        return [kind for kind, _ in self.events]


def parse(data: bytes, *, max_header_size: int = 16384, split: int = 0) -> Events:
    sink = Events()
    parser = RequestParser(sink, max_header_size=max_header_size)
    if split:
        for i in range(0, len(data), split):
            parser.feed(data[i : i + split])
    else:
        parser.feed(data)
    return sink


def test_simple_get_lowercases_names_and_keeps_values() -> None:
    sink = parse(b"GET /a?b=1 HTTP/1.1\r\nHost: x\r\nX-Thing: Mixed Case\r\n\r\n")
    (head,) = sink.heads()
    assert head.method == b"GET"
    assert head.target == b"/a?b=1"
    assert head.version == "1.1"
    assert head.headers == [(b"host", b"x"), (b"x-thing", b"Mixed Case")]
    assert head.keep_alive
    assert head.idempotent
    assert not head.has_body
    assert sink.kinds() == ["head", "end"]


def test_content_length_body_split_across_feeds() -> None:
    sink = parse(b"POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\nhello world", split=3)
    (head,) = sink.heads()
    assert head.content_length == 11
    assert not head.chunked
    assert not head.idempotent
    assert sink.body() == b"hello world"
    assert sink.kinds()[-1] == "end"


def test_chunked_body_is_decoded() -> None:
    data = b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    data += b"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nTrailer: t\r\n\r\n"
    sink = parse(data, split=7)
    (head,) = sink.heads()
    assert head.chunked
    assert head.content_length is None
    assert sink.body() == b"hello world"
    assert sink.kinds()[-1] == "end"


def test_pipelined_requests_come_out_in_order() -> None:
    data = (
        b"GET /1 HTTP/1.1\r\nHost: x\r\n\r\n"
        b"POST /2 HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi"
        b"GET /3 HTTP/1.1\r\nHost: x\r\n\r\n"
    )
    sink = parse(data)
    assert [h.target for h in sink.heads()] == [b"/1", b"/2", b"/3"]
    assert sink.kinds() == ["head", "end", "head", "body", "end", "head", "end"]


def test_expect_100_continue_is_flagged() -> None:
    sink = parse(b"PUT / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n")
    (head,) = sink.heads()
    assert head.expect_continue
    assert sink.kinds() == ["head"]


def test_http10_is_not_keep_alive_by_default() -> None:
    (head,) = parse(b"GET / HTTP/1.0\r\n\r\n").heads()
    assert head.version == "1.0"
    assert not head.keep_alive


@pytest.mark.parametrize(
    ("data", "status"),
    [
        pytest.param(b"GARBAGE\r\n\r\n", 400, id="bad-request-line"),
        pytest.param(b"GET / HTTP/1.1 extra\r\n\r\n", 400, id="junk-after-version"),
        pytest.param(b"GET / HTTP/9.9\r\nHost: x\r\n\r\n", 400, id="bad-version"),
        pytest.param(b"GET / HTTP/1.1\r\nHost: x\r\nX-A: b\r\n c\r\n\r\n", 400, id="folding"),
        pytest.param(b"GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400, id="space-before-colon"),
        pytest.param(
            b"POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
            400,
            id="cl-and-te",
        ),
        pytest.param(
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
            400,
            id="te-and-cl",
        ),
        pytest.param(
            b"POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n",
            400,
            id="two-content-lengths",
        ),
        pytest.param(b"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400, id="negative-cl"),
        pytest.param(
            b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", 400, id="te-not-chunked"
        ),
        pytest.param(
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400, id="bad-chunk"
        ),
        pytest.param(b"GET / HTTP/1.1\r\nExpect: 200-ok\r\n\r\n", 417, id="unknown-expect"),
        pytest.param(
            b"GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n",
            501,
            id="upgrade",
        ),
    ],
)
def test_invalid_requests_are_refused(data: bytes, status: int) -> None:
    with pytest.raises(ProtocolError) as caught:
        parse(data)
    assert caught.value.status == status


def test_oversize_header_is_431_in_one_feed() -> None:
    data = b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n"
    with pytest.raises(ProtocolError) as caught:
        parse(data)
    assert caught.value.status == 431


def test_oversize_header_is_431_when_trickled() -> None:
    sink = Events()
    parser = RequestParser(sink, max_header_size=1024)
    parser.feed(b"GET / HTTP/1.1\r\nX-Slow: ")
    for _ in range(90):
        parser.feed(b"aaaaaaaaaa")
    with pytest.raises(ProtocolError) as caught:
        parser.feed(b"a" * 200)
    assert caught.value.status == 431
    assert sink.heads() == []


def test_many_headers_just_under_the_limit_pass() -> None:
    headers = b"Host: h\r\n" + b"".join(b"X-H%d: v\r\n" % i for i in range(50))
    (head,) = parse(b"GET / HTTP/1.1\r\n" + headers + b"\r\n", max_header_size=1024).heads()
    assert len(head.headers) == 51


def test_in_head_tracks_partial_heads() -> None:
    sink = Events()
    parser = RequestParser(sink, max_header_size=1024)
    assert not parser.in_head
    parser.feed(b"GET / HT")
    assert parser.in_head
    parser.feed(b"TP/1.1\r\nHost: h\r\n\r\n")
    assert not parser.in_head
    assert len(sink.heads()) == 1


def responses(data: bytes, split: int = 0) -> Events:
    sink = Events()
    parser = ResponseParser(sink)
    if split:
        for i in range(0, len(data), split):
            parser.feed(data[i : i + split])
    else:
        parser.feed(data)
    return sink


def test_response_with_content_length() -> None:
    sink = responses(b"HTTP/1.1 201 Created\r\nContent-Length: 2\r\nX-A: b\r\n\r\nok", split=5)
    head = sink.events[0][1]
    assert isinstance(head, ResponseHead)
    assert (head.status, head.reason, head.content_length) == (201, b"Created", 2)
    assert head.keep_alive
    assert not head.chunked
    assert sink.body() == b"ok"
    assert sink.kinds()[-1] == "end"


def test_chunked_response_and_keep_alive_off() -> None:
    sink = responses(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        b"2\r\nok\r\n0\r\n\r\n"
    )
    head = sink.events[0][1]
    assert isinstance(head, ResponseHead)
    assert head.chunked
    assert not head.keep_alive
    assert sink.body() == b"ok"


def test_informational_then_final_response() -> None:
    sink = responses(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n")
    statuses = [e.status for kind, e in sink.events if kind == "head"]  # type: ignore[attr-defined]
    assert statuses == [100, 204]


def test_invalid_response_is_bad_response() -> None:
    with pytest.raises(BadResponse):
        responses(b"NOT HTTP\r\n\r\n")
    with pytest.raises(BadResponse):
        responses(b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n")


STREAM = (
    b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
    b"POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
    b"PUT /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
    b"DELETE /d HTTP/1.1\r\nHost: x\r\nX-Long: " + b"v" * 300 + b"\r\n\r\n"
)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=len(STREAM) - 1), max_size=40))
def test_any_split_of_a_pipelined_stream_gives_the_same_requests(cuts: list[int]) -> None:
    sink = Events()
    parser = RequestParser(sink, max_header_size=1024)
    bounds = [0, *sorted(set(cuts)), len(STREAM)]
    for start, end in itertools.pairwise(bounds):
        parser.feed(STREAM[start:end])
    assert [(h.method, h.target) for h in sink.heads()] == [
        (b"GET", b"/a"),
        (b"POST", b"/b"),
        (b"PUT", b"/c"),
        (b"DELETE", b"/d"),
    ]
    assert sink.body() == b"helloabc"
    assert sink.kinds().count("end") == 4


@pytest.mark.parametrize(
    "raw",
    [
        b"GET / HTTP/1.1\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
        b"GET / HTTP/1.0\r\nHost: a\r\nhost: b\r\n\r\n",
    ],
    ids=["1.1-without-host", "two-hosts", "1.0-two-hosts"],
)
def test_requests_without_exactly_one_host_are_refused(raw: bytes) -> None:
    with pytest.raises(ProtocolError) as refused:
        parse(raw)
    assert refused.value.status == 400
    assert refused.value.code == "invalid_host"


def test_http_1_0_may_omit_host() -> None:
    (head,) = parse(b"GET / HTTP/1.0\r\n\r\n").heads()
    assert head.version == "1.0"


def test_trailer_fields_are_dropped_not_added_to_the_head() -> None:
    sink = parse(
        b"POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"2\r\nhi\r\n0\r\nHost: evil\r\nX-Injected: 1\r\n\r\n",
        split=7,
    )
    (head,) = sink.heads()
    assert head.headers == [(b"host", b"x"), (b"transfer-encoding", b"chunked")]
    assert sink.body() == b"hi"
    assert sink.kinds()[-1] == "end"
