"""Proxying over loopback with real backends: spreading, rewriting, framing, limits."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter

import aiohttp
import orjson

from balancer.config import BackendSpec
from tests.balancer.backend_double import ScriptedBackend
from tests.balancer.conftest import StartBalancer, raw_exchange, url, wait_for


async def test_round_robin_spreads_300_requests_evenly(
    backends: list[ScriptedBackend], start_balancer: StartBalancer, session: aiohttp.ClientSession
) -> None:
    balancer = await start_balancer([b.url for b in backends])
    seen: Counter[str] = Counter()

    async def worker() -> None:
        for _ in range(30):
            async with session.get(url(balancer)) as response:
                assert response.status == 200
                seen[await response.text()] += 1

    await asyncio.gather(*(worker() for _ in range(10)))
    assert seen == {"s1": 100, "s2": 100, "s3": 100}
    assert [b.served for b in backends] == [100, 100, 100]


async def test_forwarded_headers_and_request_id(
    backends: list[ScriptedBackend], start_balancer: StartBalancer, session: aiohttp.ClientSession
) -> None:
    balancer = await start_balancer([backends[0].url])
    headers = {"X-Forwarded-For": "203.0.113.7", "Connection": "keep-alive, X-Drop", "X-Drop": "1"}
    async with session.get(url(balancer, "/headers"), headers=headers) as response:
        received = orjson.loads(await response.read())
        returned_id = response.headers["X-Request-ID"]
    assert received["x-forwarded-for"] == "203.0.113.7, 127.0.0.1"
    assert received["x-forwarded-proto"] == "http"
    assert received["x-request-id"] == returned_id
    assert "x-drop" not in received
    assert "connection" not in received
    async with session.get(url(balancer, "/headers"), headers={"X-Request-ID": "mine-42"}) as r:
        assert orjson.loads(await r.read())["x-request-id"] == "mine-42"
        assert r.headers["X-Request-ID"] == "mine-42"


async def test_chunked_request_and_response_bodies_stream(
    backends: list[ScriptedBackend], start_balancer: StartBalancer, session: aiohttp.ClientSession
) -> None:
    balancer = await start_balancer([backends[0].url])

    async def body() -> object:
        for part in (b"abc", b"def" * 1000, b"g"):
            yield part

    async with session.post(url(balancer, "/echo"), data=body()) as response:
        assert response.status == 200
        assert await response.read() == b"abc" + b"def" * 1000 + b"g"
    async with session.get(url(balancer, "/chunked")) as response:
        assert response.headers["Transfer-Encoding"] == "chunked"
        assert await response.read() == b"hello world"
    big = b"x" * 300_000
    async with session.post(url(balancer, "/echo"), data=big) as response:
        assert await response.read() == big


async def test_pipelined_requests_are_answered_in_order(
    backends: list[ScriptedBackend], start_balancer: StartBalancer
) -> None:
    balancer = await start_balancer([b.url for b in backends])
    requests = b"".join(
        b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\n%02d" % i for i in range(6)
    )
    requests += b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
    received = await raw_exchange(balancer, requests)
    assert received.count(b"HTTP/1.1 200") == 7
    bodies = [part.split(b"\r\n\r\n", 1)[1][:2] for part in received.split(b"HTTP/1.1 ")[1:]]
    assert bodies[:6] == [b"%02d" % i for i in range(6)]
    assert received.rstrip().endswith((b"s1", b"s2", b"s3"))


async def test_expect_100_continue_is_answered_by_the_balancer(
    backends: list[ScriptedBackend], start_balancer: StartBalancer
) -> None:
    balancer = await start_balancer([backends[0].url])
    assert balancer.listen_address is not None
    reader, writer = await asyncio.open_connection("127.0.0.1", balancer.listen_address.port)
    try:
        writer.write(
            b"POST /headers HTTP/1.1\r\nHost: t\r\n"
            b"Expect: 100-continue\r\nContent-Length: 4\r\n\r\n"
        )
        interim = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 2)
        assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
        writer.write(b"data")
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 2)
        assert head.startswith(b"HTTP/1.1 200")
        length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
        received = orjson.loads(await reader.readexactly(length))
        assert "expect" not in received
    finally:
        writer.close()


async def test_head_requests_keep_the_connection_usable(
    backends: list[ScriptedBackend], start_balancer: StartBalancer, session: aiohttp.ClientSession
) -> None:
    balancer = await start_balancer([backends[0].url])
    for _ in range(3):
        async with session.head(url(balancer)) as response:
            assert response.status == 200
        async with session.get(url(balancer)) as response:
            assert await response.text() == "s1"


async def test_malformed_requests_get_json_errors(
    backends: list[ScriptedBackend], start_balancer: StartBalancer
) -> None:
    balancer = await start_balancer([backends[0].url], max_body_size=1000, max_header_size=2048)
    cases = [
        (b"NONSENSE\r\n\r\n", b"400", b"bad_request"),
        (b"GET / HTTP/1.1\r\nHost: t\r\nX-Long: " + b"a" * 5000 + b"\r\n\r\n", b"431", b"header"),
        (
            b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
            b"400",
            b"bad_request",
        ),
        (b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5000\r\n\r\n", b"413", b"too_large"),
        (b"GET / HTTP/1.1\r\nHost: t\r\nX-A: b\r\n folded\r\n\r\n", b"400", b"bad_request"),
    ]
    for request, status, code in cases:
        received = await raw_exchange(balancer, request)
        assert received.startswith(b"HTTP/1.1 " + status), received[:80]
        head, body = received.split(b"\r\n\r\n", 1)
        assert b"connection: close" in head
        assert code in orjson.loads(body)["error"]["code"].encode()
    assert backends[0].requests["POST /"] == 0


async def test_chunked_body_over_the_limit_is_413(
    backends: list[ScriptedBackend], start_balancer: StartBalancer
) -> None:
    balancer = await start_balancer([backends[0].url], max_body_size=1000)
    request = b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
    request += b"400\r\n" + b"z" * 1024 + b"\r\n0\r\n\r\n"
    received = await raw_exchange(balancer, request)
    assert received.startswith(b"HTTP/1.1 413")


async def test_slowloris_is_cut_off_while_others_are_served(
    backends: list[ScriptedBackend], start_balancer: StartBalancer, session: aiohttp.ClientSession
) -> None:
    balancer = await start_balancer([backends[0].url], header_timeout=0.5)
    assert balancer.listen_address is not None
    reader, writer = await asyncio.open_connection("127.0.0.1", balancer.listen_address.port)
    writer.write(b"GET / HTTP/1.1\r\nHost: t\r\n")
    served = 0
    loop = asyncio.get_running_loop()
    started = loop.time()
    try:
        cut_off = False
        while loop.time() - started < 5 and not cut_off:
            with contextlib.suppress(ConnectionError):
                writer.write(b"X-Slow: 1\r\n")
            async with session.get(url(balancer)) as response:
                assert response.status == 200
                served += 1
            with contextlib.suppress(TimeoutError):
                cut_off = await asyncio.wait_for(reader.read(4096), 0.1) != b"" or reader.at_eof()
        elapsed = loop.time() - started
        leftover = await asyncio.wait_for(reader.read(), 1)
    finally:
        writer.close()
    assert cut_off
    assert 0.4 < elapsed < 4.0
    assert served > 3
    assert leftover == b"" or b"408" in leftover


async def test_all_backends_down_gives_503_with_retry_after(
    start_balancer: StartBalancer, session: aiohttp.ClientSession
) -> None:
    dead = await ScriptedBackend("dead").start()
    await dead.kill()
    balancer = await start_balancer([dead.url], health_interval=0.05, fall=1, rise=1)
    await asyncio.sleep(0.3)
    async with session.get(url(balancer)) as response:
        assert response.status == 503
        assert response.headers["Retry-After"] == "1"
        assert response.headers["X-Request-ID"]
        body = orjson.loads(await response.read())
    assert body["error"]["code"] == "no_backend_available"


async def test_backend_connect_failure_is_502_when_nothing_else_is_left(
    start_balancer: StartBalancer, session: aiohttp.ClientSession
) -> None:
    dead = await ScriptedBackend("dead").start()
    await dead.kill()
    balancer = await start_balancer([dead.url], health_interval=0, eject_after=100)
    async with session.get(url(balancer)) as response:
        assert response.status == 502
        assert orjson.loads(await response.read())["error"]["code"] == "upstream_connect_failed"


async def test_response_timeout_is_504(
    backends: list[ScriptedBackend], start_balancer: StartBalancer, session: aiohttp.ClientSession
) -> None:
    balancer = await start_balancer([backends[0].url], server_timeout=0.3, eject_after=100)
    async with session.get(url(balancer, "/hang")) as response:
        assert response.status == 504
        assert orjson.loads(await response.read())["error"]["code"] == "upstream_timeout"
    async with session.get(url(balancer)) as response:
        assert response.status == 200


async def test_large_bodies_to_a_slow_reader_arrive_intact(
    backends: list[ScriptedBackend], start_balancer: StartBalancer
) -> None:
    balancer = await start_balancer([backends[0].url])
    assert balancer.listen_address is not None
    payload = bytes(range(256)) * 16384  # 4 MiB
    reader, writer = await asyncio.open_connection("127.0.0.1", balancer.listen_address.port)
    try:
        writer.write(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n" % len(payload))
        writer.write(payload)
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        assert b"content-length: %d" % len(payload) in head
        received = bytearray()
        while len(received) < len(payload):
            received += await asyncio.wait_for(reader.read(16384), 5)
            await asyncio.sleep(0.0005)
    finally:
        writer.close()
    assert bytes(received) == payload


async def test_weighted_round_robin_follows_weights_end_to_end(
    backends: list[ScriptedBackend], start_balancer: StartBalancer, session: aiohttp.ClientSession
) -> None:
    specs = tuple(BackendSpec(b.url, w) for b, w in zip(backends, (3, 1, 1), strict=True))
    balancer = await start_balancer([], backends=specs, algorithm="wrr")
    seen: Counter[str] = Counter()
    for _ in range(100):
        async with session.get(url(balancer)) as response:
            seen[await response.text()] += 1
    assert seen == {"s1": 60, "s2": 20, "s3": 20}


async def test_least_connections_avoids_the_busy_backend(
    backends: list[ScriptedBackend], start_balancer: StartBalancer, session: aiohttp.ClientSession
) -> None:
    balancer = await start_balancer([b.url for b in backends[:2]], algorithm="leastconn")
    backends[0].delay = backends[1].delay = 1.0

    async def slow() -> str:
        async with session.get(url(balancer, "/slow")) as response:
            return await response.text()

    hog = asyncio.create_task(slow())
    await wait_for(lambda: backends[0].in_flight + backends[1].in_flight == 1)
    busy = "s1" if backends[0].in_flight else "s2"
    for _ in range(5):
        async with session.get(url(balancer)) as response:
            assert await response.text() != busy
    assert await hog == busy


async def test_backend_stalling_mid_response_cuts_the_client_off(
    backends: list[ScriptedBackend], start_balancer: StartBalancer
) -> None:
    balancer = await start_balancer([backends[0].url], server_timeout=0.4, eject_after=100)
    loop = asyncio.get_running_loop()
    started = loop.time()
    received = await raw_exchange(
        balancer, b"GET /stall HTTP/1.1\r\nHost: t\r\n\r\n", read_timeout=5
    )
    elapsed = loop.time() - started
    assert received.startswith(b"HTTP/1.1 200")
    assert received.endswith(b"\r\n\r\nabc")
    assert 0.3 < elapsed < 3


async def test_slow_upload_is_not_a_backend_timeout(
    backends: list[ScriptedBackend], start_balancer: StartBalancer
) -> None:
    balancer = await start_balancer([backends[0].url], server_timeout=0.5)
    assert balancer.listen_address is not None
    reader, writer = await asyncio.open_connection("127.0.0.1", balancer.listen_address.port)
    try:
        writer.write(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 8\r\n\r\n")
        for byte in b"tricklin":
            writer.write(bytes([byte]))
            await asyncio.sleep(0.15)
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 3)
        body = await asyncio.wait_for(reader.readexactly(8), 3)
    finally:
        writer.close()
    assert head.startswith(b"HTTP/1.1 200")
    assert body == b"tricklin"


async def test_a_stalled_upload_is_cut_off_and_frees_its_backend(
    backends: list[ScriptedBackend], start_balancer: StartBalancer
) -> None:
    # Streamed (no request buffer), so the body's backend slot is taken before it stalls.
    balancer = await start_balancer([backends[0].url], body_timeout=0.5, request_buffer=0)
    assert balancer.listen_address is not None
    backend = balancer.backends.backends["b1"]
    reader, writer = await asyncio.open_connection("127.0.0.1", balancer.listen_address.port)
    loop = asyncio.get_running_loop()
    try:
        writer.write(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 8\r\n\r\ntr")
        started = loop.time()
        await wait_for(lambda: backend.active == 1)
        answer = await asyncio.wait_for(reader.read(), 5)
        elapsed = loop.time() - started
    finally:
        writer.close()
    assert answer.startswith(b"HTTP/1.1 408")
    assert b"request_timeout" in answer
    assert 0.4 < elapsed < 3
    await wait_for(lambda: backend.active == 0)


async def test_requests_pipelined_after_a_refused_one_are_not_forwarded(
    backends: list[ScriptedBackend], start_balancer: StartBalancer
) -> None:
    balancer = await start_balancer([backends[0].url], max_body_size=10)
    received = await raw_exchange(
        balancer,
        b"GET /headers HTTP/1.1\r\nHost: t\r\n\r\n"
        b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 99\r\n\r\n"
        b"GET /after HTTP/1.1\r\nHost: t\r\n\r\n",
    )
    assert received.startswith(b"HTTP/1.1 200")
    assert received.count(b"HTTP/1.1 ") == 2
    assert b"HTTP/1.1 413" in received
    assert backends[0].requests["GET /after"] == 0
    assert backends[0].requests["POST /echo"] == 0
    refused_first = await raw_exchange(
        balancer,
        b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 99\r\n\r\n"
        + b"b" * 99
        + b"GET /after HTTP/1.1\r\nHost: t\r\n\r\n",
    )
    assert refused_first.startswith(b"HTTP/1.1 413")
    assert refused_first.count(b"HTTP/1.1 ") == 1
    await asyncio.sleep(0.1)
    assert backends[0].requests["GET /after"] == 0
