"""Hostile requests through the balancer on loopback: what reaches the backend, and what a
slow or greedy client can hold."""

from __future__ import annotations

from tests.balancer.backend_double import ScriptedBackend
from tests.balancer.conftest import StartBalancer, raw_exchange


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
