"""Pure header rewriting: what the balancer sends upstream and back to the client.

Hop-by-hop headers (RFC 9110 §7.6.1) and every header named in ``Connection`` are dropped
in both directions. Upstream requests always use HTTP/1.1 keep-alive; ``X-Forwarded-For``
gets the client address appended, ``X-Forwarded-Proto`` is set, and ``X-Request-ID`` is kept
when the client sent a sane one or generated otherwise; the same id goes back to the client.
``Expect`` is answered by the balancer itself (like Envoy), so it is not forwarded.
"""

from __future__ import annotations

import os
import re
from http import HTTPStatus
from typing import Final

import orjson

from balancer.http11 import Headers, RequestHead, ResponseHead

HOP_BY_HOP: Final = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-connection",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
    }
)
_REQUEST_DROP: Final = HOP_BY_HOP | {
    b"expect",
    b"x-forwarded-for",
    b"x-forwarded-proto",
    b"x-request-id",
}
_RESPONSE_DROP: Final = HOP_BY_HOP | {b"x-request-id"}
_MAX_REQUEST_ID: Final = 200

CONTINUE: Final = b"HTTP/1.1 100 Continue\r\n\r\n"


class RequestIds:
    """Generates request ids: a random per-process prefix and a counter (cheap and unique)."""

    __slots__ = ("_counter", "_prefix")

    def __init__(self, prefix: str | None = None) -> None:
        text = prefix if prefix is not None else os.urandom(6).hex()
        self._prefix = text.encode() + b"-"
        self._counter = 0

    def next(self) -> bytes:
        self._counter += 1
        return self._prefix + b"%08x" % self._counter


# Connection values that name no extra header to drop (nearly all of them in practice).
_PLAIN_CONNECTION: Final = frozenset({b"keep-alive", b"close", b"Keep-Alive", b"Close"})


def _connection_tokens(headers: Headers) -> frozenset[bytes]:
    """Header names listed in Connection that are not already hop-by-hop."""
    tokens: set[bytes] = set()
    for name, value in headers:
        if name == b"connection":
            tokens.update(t.strip().lower() for t in value.split(b","))
    return frozenset(tokens - HOP_BY_HOP)


def _without_listed(
    parts: list[bytes], kept: int, headers: Headers, drop: frozenset[bytes]
) -> list[bytes]:
    """``parts`` with its copied fields copied again, leaving out those a Connection field
    names (rare: the first copy did not look for them, to keep the common case fast)."""
    tokens = _connection_tokens(headers)
    if not tokens:
        return parts
    parts = parts[:kept]
    for name, value in headers:
        if name not in drop and name not in tokens:
            parts += (name, b": ", value, b"\r\n")
    return parts


_valid_request_id: Final = re.compile(rb"[\x21-\x7e]{1,%d}" % _MAX_REQUEST_ID).fullmatch


def upstream_request_head(
    head: RequestHead,
    *,
    client_ip: bytes,
    proto: bytes,
    ids: RequestIds,
) -> tuple[bytes, bytes]:
    """Return ``(request id, upstream request head bytes)`` for ``head``.

    A chunked client body is forwarded re-chunked; a ``Content-Length`` body as it is.
    """
    parts = [head.method, b" ", head.target, b" HTTP/1.1\r\n"]
    forwarded_for = b""
    request_id = b""
    has_connection = False
    for name, value in head.headers:
        if name in _REQUEST_DROP:
            if name == b"x-forwarded-for":
                forwarded_for = forwarded_for + b", " + value if forwarded_for else value
            elif name == b"x-request-id":
                request_id = value
            elif name == b"connection" and value not in _PLAIN_CONNECTION:
                has_connection = True
            continue
        parts += (name, b": ", value, b"\r\n")
    if has_connection:
        parts = _without_listed(parts, 4, head.headers, _REQUEST_DROP)
    if not request_id or not _valid_request_id(request_id):
        request_id = ids.next()
    parts += (
        b"x-forwarded-for: ",
        forwarded_for + b", " + client_ip if forwarded_for else client_ip,
        b"\r\nx-forwarded-proto: ",
        proto,
        b"\r\nx-request-id: ",
        request_id,
        b"\r\n",
    )
    if head.chunked:
        parts.append(b"transfer-encoding: chunked\r\n")
    parts.append(b"\r\n")
    return request_id, b"".join(parts)


_STATUS_LINES: Final[dict[tuple[int, bytes], bytes]] = {}


def _status_line(status: int, reason: bytes) -> bytes:
    line = _STATUS_LINES.get((status, reason))
    if line is None:
        line = b"HTTP/1.1 %d %s\r\n" % (status, reason)
        if len(_STATUS_LINES) < 256:
            _STATUS_LINES[(status, reason)] = line
    return line


def client_framing(
    request: RequestHead, response: ResponseHead, *, close: bool
) -> tuple[bool, bool, bool]:
    """How the backend's ``response`` to ``request`` goes on to the client:
    ``(chunked, close, until_close)``.

    ``close`` comes in as what the client connection wants already (the request did not ask
    for persistence, or the balancer is shutting down). A body the backend delimits by
    closing (``until_close``) or chunks is re-chunked for an HTTP/1.1 client; an HTTP/1.0
    client knows no chunks, so its connection must close after such a body instead.
    Whether the *backend* connection stays open is decided apart: it never affects this.
    """
    status = response.status
    if request.method == b"HEAD" or status == 204 or status == 304:
        return False, close, False
    if response.chunked or response.content_length is None:
        if request.version == "1.1":
            return True, close, not response.chunked
        return False, True, not response.chunked
    return False, close, False


def _connection(close: bool, http10: bool) -> bytes:
    # RFC 9112 §9.3: an HTTP/1.0 client keeps the connection only when the response
    # announces keep-alive; without it, it waits for a close that would never come.
    if close:
        return b"connection: close\r\n"
    return b"connection: keep-alive\r\n" if http10 else b""


def server_timing(queue: float, connect: float | None = None, ttfb: float | None = None) -> bytes:
    """The balancer's own ``Server-Timing`` field (W3C), durations given in seconds:
    ``lb-queue`` waiting for a backend slot, ``lb-connect`` opening the backend connection
    (0 when a pooled one was reused), ``lb-ttfb`` from sending the request to the response
    head. It goes after the backend's own Server-Timing fields, which it extends."""
    if ttfb is not None and connect == 0.0:
        # A pooled connection, nearly every request: one float fewer to format.
        return b"server-timing: lb-queue;dur=%.3f, lb-connect;dur=0.000, lb-ttfb;dur=%.3f\r\n" % (
            queue * 1000,
            ttfb * 1000,
        )
    if ttfb is not None and connect is not None:
        return b"server-timing: lb-queue;dur=%.3f, lb-connect;dur=%.3f, lb-ttfb;dur=%.3f\r\n" % (
            queue * 1000,
            connect * 1000,
            ttfb * 1000,
        )
    if connect is not None:
        return b"server-timing: lb-queue;dur=%.3f, lb-connect;dur=%.3f\r\n" % (
            queue * 1000,
            connect * 1000,
        )
    return b"server-timing: lb-queue;dur=%.3f\r\n" % (queue * 1000)


def client_response_head(
    head: ResponseHead,
    *,
    request_id: bytes,
    chunked: bool,
    close: bool,
    http10: bool = False,
    timing: bytes = b"",
) -> bytes:
    """Return the response head sent to the client for the backend's ``head``.

    ``chunked``: the balancer frames the body with chunked encoding (the backend used chunked,
    or delimited the body by closing). ``close``: the client connection ends after it.
    ``http10``: the client spoke HTTP/1.0, so a connection that stays open says so.
    ``timing``: the balancer's Server-Timing field (:func:`server_timing`).
    """
    parts = [_status_line(head.status, head.reason)]
    has_connection = False
    for name, value in head.headers:
        if name in _RESPONSE_DROP:
            if name == b"connection" and value not in _PLAIN_CONNECTION:
                has_connection = True
            continue
        parts += (name, b": ", value, b"\r\n")
    if has_connection:
        parts = _without_listed(parts, 1, head.headers, _RESPONSE_DROP)
    parts += (timing, b"x-request-id: ", request_id, b"\r\n")
    if chunked:
        parts.append(b"transfer-encoding: chunked\r\n")
    if close or http10:
        parts.append(_connection(close, http10))
    parts.append(b"\r\n")
    return b"".join(parts)


def error_response(
    status: int,
    code: str,
    message: str,
    *,
    request_id: bytes = b"",
    retry_after: int | None = None,
    close: bool = False,
    http10: bool = False,
    head_only: bool = False,
    timing: bytes = b"",
) -> bytes:
    """A complete JSON error response: ``{"error": {"code", "message"}}``."""
    body = orjson.dumps({"error": {"code": code, "message": message}})
    try:
        reason = HTTPStatus(status).phrase.encode()
    except ValueError:
        reason = b"Error"
    parts = [
        b"HTTP/1.1 %d %s\r\n" % (status, reason),
        b"content-type: application/json\r\ncontent-length: %d\r\n" % len(body),
    ]
    if request_id:
        parts.append(b"x-request-id: " + request_id + b"\r\n")
    if retry_after is not None:
        parts.append(b"retry-after: %d\r\n" % retry_after)
    if timing:
        parts.append(timing)
    if close or http10:
        parts.append(_connection(close, http10))
    parts.append(b"\r\n")
    if not head_only:
        parts.append(body)
    return b"".join(parts)
