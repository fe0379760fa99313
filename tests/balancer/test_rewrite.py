"""Pure header rewriting in both directions, and error bodies."""

from __future__ import annotations

import orjson

from balancer.http11 import RequestHead, ResponseHead
from balancer.rewrite import (
    RequestIds,
    client_response_head,
    error_response,
    upstream_request_head,
)


def request(headers: list[tuple[bytes, bytes]], *, chunked: bool = False) -> RequestHead:
    return RequestHead(
        b"POST",
        b"/auth/login",
        "1.1",
        headers,
        keep_alive=True,
        chunked=chunked,
        content_length=None,
        expect_continue=False,
    )


def header_lines(raw: bytes) -> list[bytes]:
    return raw.split(b"\r\n\r\n")[0].split(b"\r\n")


def rewrite(head: RequestHead) -> tuple[bytes, list[bytes]]:
    request_id, raw = upstream_request_head(
        head, client_ip=b"10.0.0.9", proto=b"http", ids=RequestIds("p")
    )
    assert raw.endswith(b"\r\n\r\n")
    return request_id, header_lines(raw)


def test_hop_by_hop_and_connection_named_headers_are_dropped() -> None:
    _, lines = rewrite(
        request(
            [
                (b"host", b"svc"),
                (b"connection", b"keep-alive, X-Secret"),
                (b"keep-alive", b"timeout=5"),
                (b"x-secret", b"s"),
                (b"proxy-authorization", b"Basic x"),
                (b"te", b"trailers"),
                (b"upgrade", b"h2c"),
                (b"expect", b"100-continue"),
                (b"authorization", b"Bearer t"),
            ]
        )
    )
    assert lines[0] == b"POST /auth/login HTTP/1.1"
    names = [line.split(b":")[0] for line in lines[1:]]
    for dropped in (b"connection", b"keep-alive", b"x-secret", b"proxy-authorization", b"te"):
        assert dropped not in names
    assert b"upgrade" not in names
    assert b"expect" not in names
    assert b"host: svc" in lines
    assert b"authorization: Bearer t" in lines


def test_forwarded_headers_append_and_overwrite() -> None:
    request_id, lines = rewrite(
        request(
            [
                (b"x-forwarded-for", b"1.1.1.1"),
                (b"x-forwarded-for", b"2.2.2.2"),
                (b"x-forwarded-proto", b"https"),
            ]
        )
    )
    assert b"x-forwarded-for: 1.1.1.1, 2.2.2.2, 10.0.0.9" in lines
    assert b"x-forwarded-proto: http" in lines
    assert request_id == b"p-00000001"
    assert b"x-request-id: p-00000001" in lines


def test_client_request_id_is_kept_when_sane() -> None:
    request_id, lines = rewrite(request([(b"x-request-id", b"abc-123")]))
    assert request_id == b"abc-123"
    assert lines.count(b"x-request-id: abc-123") == 1


def test_insane_request_id_is_replaced() -> None:
    request_id, _ = rewrite(request([(b"x-request-id", b"has space\x01")]))
    assert request_id == b"p-00000001"
    request_id, _ = rewrite(request([(b"x-request-id", b"a" * 500)]))
    assert request_id == b"p-00000001"


def test_chunked_request_is_forwarded_chunked() -> None:
    _, lines = rewrite(request([(b"transfer-encoding", b"chunked")], chunked=True))
    assert lines.count(b"transfer-encoding: chunked") == 1


def test_request_ids_are_unique() -> None:
    ids = RequestIds()
    assert len({ids.next() for _ in range(1000)}) == 1000


def response(headers: list[tuple[bytes, bytes]], status: int = 200) -> ResponseHead:
    return ResponseHead(status, b"OK", headers, keep_alive=True, chunked=False, content_length=2)


def test_response_head_strips_hop_by_hop_and_adds_request_id() -> None:
    raw = client_response_head(
        response(
            [
                (b"content-length", b"2"),
                (b"connection", b"keep-alive, x-internal"),
                (b"keep-alive", b"timeout=60"),
                (b"x-internal", b"1"),
                (b"x-request-id", b"backend-made"),
                (b"content-type", b"application/json"),
            ]
        ),
        request_id=b"rid",
        chunked=False,
        close=False,
    )
    lines = header_lines(raw)
    assert lines[0] == b"HTTP/1.1 200 OK"
    assert b"content-length: 2" in lines
    assert b"content-type: application/json" in lines
    assert b"x-request-id: rid" in lines
    assert b"x-request-id: backend-made" not in lines
    assert not any(line.startswith((b"keep-alive", b"x-internal", b"connection")) for line in lines)


def test_response_head_rechunks_and_closes_on_request() -> None:
    raw = client_response_head(
        response([(b"transfer-encoding", b"chunked")]), request_id=b"r", chunked=True, close=True
    )
    lines = header_lines(raw)
    assert lines.count(b"transfer-encoding: chunked") == 1
    assert b"connection: close" in lines


def test_error_response_shape() -> None:
    raw = error_response(503, "no_backend_available", "all down", request_id=b"r", retry_after=1)
    head, body = raw.split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 503 Service Unavailable\r\n")
    assert b"retry-after: 1" in head
    assert b"x-request-id: r" in head
    assert b"content-length: %d" % len(body) in head
    assert orjson.loads(body) == {"error": {"code": "no_backend_available", "message": "all down"}}
    assert error_response(400, "bad_request", "x", head_only=True).endswith(b"\r\n\r\n")
