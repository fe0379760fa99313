"""The metrics listener (``AUTH_METRICS_LISTEN``): /metrics and health details, off the
public port.

What an operator scrapes (request counts, which store is down) is no business of the
public, and a balancer forwards whatever reaches the public port; so these answers live on
their own address, typically loopback or an internal network. The protocol is the least
HTTP/1.1 that Prometheus and curl need: one GET per connection, the answer, close.

    GET /metrics        Prometheus text
    GET /health/ready   {"status": "ok", "checks": {"postgres": "ok", "redis": "ok"}} or 503
    GET /health/live    {"status": "ok"}

With several worker processes each binds the address with SO_REUSEPORT and a scrape lands
on one of them, as a scrape of the public port did before.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from http import HTTPStatus

import orjson

log = logging.getLogger("authscale.service")

MAX_HEAD_BYTES = 8192
READ_TIMEOUT_S = 5.0

#: (status, content type, body) for a path; None when the path is unknown.
Responder = Callable[[str], Awaitable[tuple[int, str, bytes] | None]]


def request_path(head: bytes) -> tuple[str, str] | None:
    """(method, path without query) of a request head, None when it does not parse."""
    line = head.split(b"\r\n", 1)[0]
    parts = line.split(b" ")
    if len(parts) != 3 or not parts[2].startswith(b"HTTP/1."):
        return None
    try:
        method, target = parts[0].decode("ascii"), parts[1].decode("ascii")
    except UnicodeDecodeError:
        return None
    return method, target.partition("?")[0]


def response_bytes(status: int, content_type: str, body: bytes) -> bytes:
    reason = HTTPStatus(status).phrase
    head = (
        f"HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


def error_bytes(status: int, code: str, message: str) -> bytes:
    body = orjson.dumps({"error": {"code": code, "message": message}})
    return response_bytes(status, "application/json", body)


async def answer(responder: Responder, head: bytes) -> bytes:
    """The whole response to one request head."""
    parsed = request_path(head)
    if parsed is None:
        return error_bytes(400, "invalid_request", "not an HTTP/1.x request")
    method, path = parsed
    if method not in ("GET", "HEAD"):
        return error_bytes(405, "method_not_allowed", "only GET is served here")
    found = await responder(path)
    if found is None:
        return error_bytes(404, "not_found", "no such route")
    status, content_type, body = found
    data = response_bytes(status, content_type, body)
    return data[: data.index(b"\r\n\r\n") + 4] if method == "HEAD" else data


async def _serve_one(
    responder: Responder, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    try:
        async with asyncio.timeout(READ_TIMEOUT_S):
            head = await reader.readuntil(b"\r\n\r\n")
        writer.write(await answer(responder, head))
        await writer.drain()
    except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
        pass
    except ConnectionError:
        pass
    except Exception:  # a bug here must not take the public service down
        log.exception("metrics listener: error while answering")
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


async def start(host: str, port: int, responder: Responder, *, reuse_port: bool) -> asyncio.Server:
    """Listen on ``host:port`` and answer with ``responder`` until the server is closed."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _serve_one(responder, reader, writer)

    return await asyncio.start_server(
        handle, host, port, limit=MAX_HEAD_BYTES, reuse_port=reuse_port or None
    )
