"""The balancer under hostile HTTP/1.1 on raw sockets, in front of the real service:
malformed request lines, request smuggling, oversized heads, upgrades and slow clients.

The parser's verdicts on single messages are in ``tests/balancer/test_http11.py``; here the
question is what reaches the backends. Smuggling is judged by its effect: after each
attempt, fresh clients ("victims") must each get their own answer, which fails if a
smuggled prefix were left on a pooled backend connection.
"""

from __future__ import annotations

import asyncio
import time

import aiohttp
import orjson
import psutil
import pytest

from lab.harness.topology import Topology
from tests.security.conftest import HEADER_TIMEOUT_S, balancer_port, raw_exchange, responses_in

pytestmark = pytest.mark.integration

JSON = b"Content-Type: application/json\r\n"
SMUGGLED = b"GET /smuggled HTTP/1.1\r\nX-Swallow: "
VICTIM = b"GET /health/live HTTP/1.1\r\nHost: victim\r\nConnection: close\r\n\r\n"


def login(*headers: bytes, version: bytes = b"1.1") -> bytes:
    return b"POST /auth/login HTTP/" + version + b"\r\nHost: t\r\n" + JSON + b"".join(headers)


def chunk(data: bytes) -> bytes:
    return b"%x\r\n" % len(data) + data + b"\r\n"


SMUGGLING = {
    "cl-te": login(b"Content-Length: 5\r\n", b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
    + SMUGGLED,
    "te-cl": login(b"Transfer-Encoding: chunked\r\n", b"Content-Length: 4\r\n\r\n")
    + chunk(SMUGGLED)
    + b"0\r\n\r\n",
    "te-tab-and-cl": login(b"Transfer-Encoding:\tchunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n")
    + SMUGGLED,
    "te-twice": login(b"Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n")
    + b"0\r\n\r\n"
    + SMUGGLED,
    "te-space-before-colon": login(b"Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n") + SMUGGLED,
    "te-xchunked": login(b"Transfer-Encoding: xchunked\r\nContent-Length: 3\r\n\r\nabc") + SMUGGLED,
    "te-vertical-tab": login(b"Transfer-Encoding: \x0bchunked\r\n\r\n0\r\n\r\n") + SMUGGLED,
    "te-in-http10": login(b"Transfer-Encoding: chunked\r\n\r\n", version=b"1.0")
    + chunk(SMUGGLED)
    + b"0\r\n\r\n",
    "te-folded": login(b"Transfer-Encoding: identity\r\n chunked\r\n\r\n0\r\n\r\n") + SMUGGLED,
    "cl-list": login(b"Content-Length: 2, 2\r\n\r\n{}") + SMUGGLED,
    "cl-plus-sign": login(b"Content-Length: +2\r\n\r\n{}") + SMUGGLED,
    "cl-two-values": login(b"Content-Length: 2\r\nContent-Length: 40\r\n\r\n{}") + SMUGGLED,
    "cl-in-get": b"GET /health/live HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n"
    % len(SMUGGLED)
    + SMUGGLED,
    "cl-on-head": b"HEAD /health/live HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n"
    % len(SMUGGLED)
    + SMUGGLED,
    "chunk-size-overflow": login(b"Transfer-Encoding: chunked\r\n\r\n")
    + b"10000000000000002\r\n{}\r\n0\r\n\r\n"
    + SMUGGLED,
    "chunk-lf-only": login(b"Transfer-Encoding: chunked\r\n\r\n") + b"2\n{}\n0\n\n" + SMUGGLED,
    "chunk-without-crlf": login(b"Transfer-Encoding: chunked\r\n\r\n")
    + b"2\r\n{}XX0\r\n\r\n"
    + SMUGGLED,
    "trailer-smuggle": login(b"Transfer-Encoding: chunked\r\n\r\n")
    + b"0\r\nContent-Length: 40\r\n\r\n"
    + SMUGGLED,
    "expect-then-early-body": login(b"Expect: 100-continue\r\nContent-Length: 2\r\n\r\n{}")
    + SMUGGLED,
}


@pytest.mark.parametrize("attack", SMUGGLING.values(), ids=SMUGGLING.keys())
async def test_smuggling_attempts_leave_no_request_behind(stack: Topology, attack: bytes) -> None:
    port = balancer_port(stack)
    received, _ = await raw_exchange(port, attack, read_timeout=1.0)
    # The attacker gets at most one answer (a 100 Continue is interim), plus a 408 for the
    # incomplete head that trails it when the balancer framed the first request as sent.
    finals = received.replace(b"HTTP/1.1 100 Continue\r\n\r\n", b"")
    answers = responses_in(finals) - finals.count(b"HTTP/1.1 408 ")
    assert answers <= 1, received
    assert not finals.startswith(b"HTTP/1.1 5"), received[:120]
    victims = await asyncio.gather(*(raw_exchange(port, VICTIM) for _ in range(6)))
    for answer, _ in victims:
        assert answer.startswith(b"HTTP/1.1 200"), answer[:200]
        assert answer.endswith(b'{"status":"ok"}'), answer[-200:]
        assert b"smuggled" not in answer


MALFORMED = {
    "garbage": (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 40, {400}),
    "http2-preface": (b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", {400, 505}),
    "lowercase-method": (b"get /health/live HTTP/1.1\r\nHost: t\r\n\r\n", {400}),
    "nul-in-target": (b"GET /health/\x00live HTTP/1.1\r\nHost: t\r\n\r\n", {400}),
    "space-in-target": (b"GET /health /live HTTP/1.1\r\nHost: t\r\n\r\n", {400}),
    "bare-lf": (b"GET /health/live HTTP/1.1\nHost: t\n\n", {400}),
    "bare-cr": (b"GET /health/live HTTP/1.1\rHost: t\r\r", {400}),
    "version-1.2": (b"GET /health/live HTTP/1.2\r\nHost: t\r\n\r\n", {400, 505}),
    "header-without-colon": (b"GET / HTTP/1.1\r\nHost: t\r\nNoColon\r\n\r\n", {400}),
    "space-in-header-name": (b"GET / HTTP/1.1\r\nHost: t\r\nX A: b\r\n\r\n", {400}),
    "nul-in-header": (b"GET / HTTP/1.1\r\nHost: t\r\nX-A: a\x00b\r\n\r\n", {400}),
    "cr-in-header": (b"GET / HTTP/1.1\r\nHost: t\r\nX-A: a\rb\r\n\r\n", {400}),
    "control-in-header": (b"GET / HTTP/1.1\r\nHost: t\r\nX-A: a\x01b\r\n\r\n", {400}),
    "negative-length": (b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: -1\r\n\r\n", {400}),
    "hex-length": (b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 0x10\r\n\r\n", {400}),
    "huge-length": (
        b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 9" + b"9" * 30 + b"\r\n\r\n",
        {400, 413},
    ),
    "upgrade-websocket": (
        b"GET /health/live HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\n"
        b"Connection: Upgrade\r\n\r\n",
        {501},
    ),
    "upgrade-h2c": (
        b"GET /health/live HTTP/1.1\r\nHost: t\r\nUpgrade: h2c\r\n"
        b"Connection: Upgrade, HTTP2-Settings\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n\r\n",
        {501},
    ),
    "connect": (b"CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: 127.0.0.1:22\r\n\r\n", {501}),
    "unknown-expect": (b"POST / HTTP/1.1\r\nHost: t\r\nExpect: 200-ok\r\n\r\n", {417}),
}


def backend_totals(stack: Topology) -> int:
    return sum(int(row.get("total", 0)) for row in stack.backends())  # type: ignore[call-overload]


@pytest.mark.parametrize(("request_bytes", "statuses"), MALFORMED.values(), ids=MALFORMED.keys())
async def test_malformed_requests_get_one_json_error_and_never_reach_a_backend(
    stack: Topology, request_bytes: bytes, statuses: set[int]
) -> None:
    before = backend_totals(stack)
    started = time.monotonic()
    received, closed = await raw_exchange(balancer_port(stack), request_bytes)
    assert time.monotonic() - started < 1.5, "the balancer should answer at once"
    assert responses_in(received) == 1, received
    status = int(received[9:12])
    assert status in statuses, received[:200]
    head, _, body = received.partition(b"\r\n\r\n")
    assert b"connection: close" in head.lower()
    assert orjson.loads(body)["error"]["code"]
    assert closed
    assert backend_totals(stack) == before


@pytest.mark.parametrize(
    "request_bytes",
    [
        pytest.param(b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\nHost: t\r\n\r\n", id="long-target"),
        pytest.param(
            b"GET / HTTP/1.1\r\nHost: t\r\nX-Big: " + b"b" * 70_000 + b"\r\n\r\n",
            id="one-huge-header",
        ),
        pytest.param(
            b"GET / HTTP/1.1\r\nHost: t\r\n"
            + b"".join(b"X-%d: y\r\n" % i for i in range(5000))
            + b"\r\n",
            id="many-headers",
        ),
        pytest.param(
            b"GET / HTTP/1.1\r\nHost: t\r\nCookie: " + b"c=1; " * 8000 + b"\r\n\r\n", id="cookie"
        ),
    ],
)
async def test_oversized_heads_are_431(stack: Topology, request_bytes: bytes) -> None:
    received, closed = await raw_exchange(balancer_port(stack), request_bytes)
    assert received.startswith(b"HTTP/1.1 431"), received[:120]
    assert closed


async def test_a_head_under_the_balancers_limit_never_makes_a_5xx(stack: Topology) -> None:
    request = b"GET /health/live HTTP/1.1\r\nHost: t\r\nX-Big: " + b"b" * 15_000 + b"\r\n\r\n"
    received, _ = await raw_exchange(balancer_port(stack), request, read_timeout=1.0)
    assert received[9:10] in (b"2", b"4"), received[:120]


async def test_slow_clients_are_cut_off_and_hold_no_backend(stack: Topology) -> None:
    port = balancer_port(stack)
    slow_heads, slow_bodies = [], []
    for _ in range(30):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /health/live HTTP/1.1\r\nHost: t\r\n")
        slow_heads.append((reader, writer))
    for _ in range(20):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(login(b"Content-Length: 1000\r\n\r\n") + b'{"email": "')
        slow_bodies.append((reader, writer))
    started = time.monotonic()
    try:
        async with aiohttp.ClientSession() as session:
            while time.monotonic() - started < HEADER_TIMEOUT_S + 1.0:
                if time.monotonic() - started < HEADER_TIMEOUT_S - 0.3:
                    # A header line now and then does not reset the head's deadline.
                    for _, writer in slow_heads:
                        writer.write(b"X-Drip: 1\r\n")
                async with session.get(stack.entry_url + "/health/live") as reply:
                    assert reply.status == 200
                await asyncio.sleep(0.1)
        # Every slowloris connection was answered 408 and closed by the header timeout.
        for reader, _ in slow_heads:
            async with asyncio.timeout(2):
                leftover = await reader.read()
            assert leftover.startswith(b"HTTP/1.1 408") or leftover == b""
    finally:
        for _, writer in slow_heads + slow_bodies:
            writer.close()
    # Once the slow bodies' clients are gone, no backend slot stays taken.
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if all(row.get("active") == 0 for row in stack.backends()):
            break
        await asyncio.sleep(0.1)
    assert all(row.get("active") == 0 for row in stack.backends()), stack.backends()


async def test_a_client_that_never_reads_cannot_grow_the_balancers_memory(stack: Topology) -> None:
    assert stack.balancer is not None
    assert stack.balancer.proc is not None
    balancer = psutil.Process(stack.balancer.proc.pid)
    before = balancer.memory_info().rss
    _, writer = await asyncio.open_connection("127.0.0.1", balancer_port(stack))
    request = b"GET /openapi.json HTTP/1.1\r\nHost: t\r\n\r\n"
    try:
        for _ in range(200):
            writer.write(request * 20)
            try:
                async with asyncio.timeout(0.05):
                    await writer.drain()
            except TimeoutError:
                break
        await asyncio.sleep(1.0)
        grown = balancer.memory_info().rss - before
    finally:
        writer.close()
    assert grown < 64 * 1024 * 1024, f"the balancer grew by {grown / 2**20:.0f} MiB"
    async with (
        aiohttp.ClientSession() as session,
        session.get(stack.entry_url + "/health/live") as reply,
    ):
        assert reply.status == 200
