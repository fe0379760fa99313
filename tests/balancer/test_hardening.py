"""Hostile requests through the balancer on loopback: what reaches the backend, and what a
slow or greedy client can hold."""

from __future__ import annotations

import asyncio
import contextlib

import aiohttp

from tests.balancer.backend_double import ScriptedBackend
from tests.balancer.conftest import StartBalancer, raw_exchange, url, wait_for


async def test_trailers_of_a_pipelined_chunked_request_never_become_headers(
    backends: list[ScriptedBackend], start_balancer: StartBalancer
) -> None:
    balancer = await start_balancer([backends[0].url])
    # The GET keeps the connection busy while the POST behind it, trailers and all, is read.
    data = (
        b"GET /slow HTTP/1.1\r\nHost: good.example\r\n\r\n"
        b"POST /echo HTTP/1.1\r\nHost: good.example\r\nTransfer-Encoding: chunked\r\n"
        b"Connection: close\r\n\r\n"
        b"2\r\nhi\r\n0\r\nHost: evil.example\r\nX-Injected: x\r\n\r\n"
    )
    received = await raw_exchange(balancer, data)
    assert received.count(b"HTTP/1.1 200") == 2, received
    assert received.endswith(b"hi")
    post = next(head for head in backends[0].heads if head.startswith(b"POST"))
    lines = post.lower().split(b"\r\n")
    assert [line for line in lines if line.startswith(b"host:")] == [b"host: good.example"]
    assert not any(line.startswith(b"x-injected") for line in lines), post


async def test_a_slow_upload_holds_no_backend_slot(
    backends: list[ScriptedBackend], start_balancer: StartBalancer, session: aiohttp.ClientSession
) -> None:
    # One slot and a short queue: were the upload's request dispatched before its body
    # arrived, every other request would wait behind it and get 503 after 0.5 s.
    balancer = await start_balancer([backends[0].url], maxconn=1, queue_timeout=0.5)
    backend = balancer.backends.backends["b1"]
    assert balancer.listen_address is not None
    reader, writer = await asyncio.open_connection("127.0.0.1", balancer.listen_address.port)
    statuses = []
    try:
        writer.write(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 6\r\n\r\n")
        for byte in b"upload":
            writer.write(bytes([byte]))
            await writer.drain()
            for _ in range(2):
                async with session.get(url(balancer, "/slow")) as response:
                    statuses.append(response.status)
            assert backend.active == 0
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 3)
        body = await asyncio.wait_for(reader.readexactly(6), 3)
    finally:
        writer.close()
    assert statuses == [200] * 12
    assert head.startswith(b"HTTP/1.1 200")
    assert body == b"upload"


async def test_a_request_must_arrive_whole_within_the_request_timeout(
    backends: list[ScriptedBackend], start_balancer: StartBalancer
) -> None:
    # Never silent for long (no body timeout), yet never done: the absolute deadline ends it.
    balancer = await start_balancer([backends[0].url], request_timeout=1.0, body_timeout=10)
    assert balancer.listen_address is not None
    reader, writer = await asyncio.open_connection("127.0.0.1", balancer.listen_address.port)
    loop = asyncio.get_running_loop()
    started = loop.time()
    answer = b""
    try:
        writer.write(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n")
        while not answer and loop.time() - started < 5:
            writer.write(b"x")
            # read(n), not read(): read() gathers until EOF, and a timeout between the
            # answer and the EOF would cancel it and lose the answer.
            with contextlib.suppress(TimeoutError):
                answer = await asyncio.wait_for(reader.read(65536), 0.2)
    finally:
        writer.close()
    elapsed = loop.time() - started
    assert answer.startswith(b"HTTP/1.1 408"), answer
    assert b'"code":"request_timeout"' in answer
    assert b"connection: close" in answer
    assert 0.9 < elapsed < 2.5
    assert backends[0].served == 0


async def test_a_body_larger_than_the_buffer_is_streamed(
    backends: list[ScriptedBackend], start_balancer: StartBalancer
) -> None:
    balancer = await start_balancer([backends[0].url], request_buffer=16)
    backend = balancer.backends.backends["b1"]
    assert balancer.listen_address is not None
    reader, writer = await asyncio.open_connection("127.0.0.1", balancer.listen_address.port)
    try:
        writer.write(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 64\r\n\r\n")
        writer.write(b"a" * 32)
        # Half the body is here and it is over the buffer: the backend has the request.
        await wait_for(lambda: backend.active == 1, 2)
        writer.write(b"b" * 32)
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 3)
        body = await asyncio.wait_for(reader.readexactly(64), 3)
    finally:
        writer.close()
    assert head.startswith(b"HTTP/1.1 200")
    assert body == b"a" * 32 + b"b" * 32


async def test_connections_per_client_address_are_capped(
    backends: list[ScriptedBackend], start_balancer: StartBalancer
) -> None:
    balancer = await start_balancer([backends[0].url], max_client_connections=2)
    assert balancer.listen_address is not None
    port = balancer.listen_address.port
    held = [await asyncio.open_connection("127.0.0.1", port) for _ in range(2)]
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        refused = await asyncio.wait_for(reader.read(), 2)
        writer.close()
        assert refused.startswith(b"HTTP/1.1 503"), refused
        assert b'"code":"too_many_connections"' in refused
        assert b"retry-after: 1" in refused
        # The held connections still work, and a closed one makes room for another.
        reader, writer = held[0]
        writer.write(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        assert (await asyncio.wait_for(reader.readuntil(b"s1"), 2)).startswith(b"HTTP/1.1 200")
        writer.close()
        await wait_for(lambda: balancer.ctx is not None and len(balancer.ctx.clients) == 1)
        assert (
            await raw_exchange(balancer, b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        ).startswith(b"HTTP/1.1 200")
    finally:
        for _, writer in held:
            writer.close()


async def test_one_header_over_the_limit_is_431_and_reaches_no_backend(
    backends: list[ScriptedBackend], start_balancer: StartBalancer
) -> None:
    balancer = await start_balancer([backends[0].url], max_header_size=8192)
    token = b"Authorization: Bearer " + b"a" * 10_000 + b"\r\n"
    request = b"GET / HTTP/1.1\r\nHost: t\r\n" + token + b"\r\n"
    assert balancer.listen_address is not None
    for pieces in (1, 40):
        reader, writer = await asyncio.open_connection("127.0.0.1", balancer.listen_address.port)
        step = -(-len(request) // pieces)
        try:
            for i in range(0, len(request), step):
                writer.write(request[i : i + step])
                await writer.drain()
            answer = await asyncio.wait_for(reader.read(), 2)
        except ConnectionResetError:
            answer = b""
        finally:
            writer.close()
        assert answer.startswith(b"HTTP/1.1 431 Request Header Fields Too Large"), answer[:60]
        assert b'"code":"header_too_large"' in answer
    assert backends[0].served == 0


async def test_a_client_still_sending_when_refused_reads_the_refusal(
    backends: list[ScriptedBackend], start_balancer: StartBalancer
) -> None:
    # The 413 goes out while the client is still sending its body. Closing at once would
    # answer the next bytes with a reset, and a client that meets it while writing (asyncio's
    # streams among them) loses the answer it has not read yet; the balancer half-closes,
    # discards what arrives, and closes at the client's EOF.
    balancer = await start_balancer([backends[0].url], max_body_size=1000)
    assert balancer.listen_address is not None
    reader, writer = await asyncio.open_connection("127.0.0.1", balancer.listen_address.port)
    try:
        writer.write(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\n\r\n")
        for _ in range(5):
            await asyncio.sleep(0.1)
            writer.write(b"x" * 1000)
        writer.write_eof()
        answer = await asyncio.wait_for(reader.read(), 5)
    finally:
        writer.close()
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert b'"code":"body_too_large"' in answer
    assert backends[0].served == 0
