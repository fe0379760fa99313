"""Client connection persistence (RFC 9112 §9.3) for every version × Connection case:
a table without sockets, then real HTTP/1.0 keep-alive clients on loopback."""

from __future__ import annotations

import asyncio
import re
import shutil

import pytest

from balancer.http11 import RequestHead, RequestParser, ResponseHead, ResponseParser
from balancer.rewrite import client_framing, client_response_head
from tests.balancer.backend_double import ScriptedBackend
from tests.balancer.conftest import StartBalancer
from tests.balancer.test_http11 import Events

CONNECTION = {
    "none": b"",
    "keep-alive": b"Connection: Keep-Alive\r\n",
    "close": b"Connection: close\r\n",
}
RESPONSES = {
    "length": b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
    "length, backend closes": b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n"
    b"\r\nok",
    "chunked": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
    "until close": b"HTTP/1.0 200 OK\r\n\r\nok",
}


def connection_values(head: bytes) -> list[bytes]:
    """The values of the Connection fields of a response head."""
    return [
        line.split(b":", 1)[1].strip()
        for line in head.split(b"\r\n")[1:]
        if line.lower().startswith(b"connection:")
    ]


def request_head(version: str, connection: str) -> RequestHead:
    sink = Events()
    RequestParser(sink, max_header_size=8192).feed(
        b"GET / HTTP/" + version.encode() + b"\r\nHost: t\r\n" + CONNECTION[connection] + b"\r\n"
    )
    (head,) = sink.heads()
    return head


def response_head(raw: bytes) -> ResponseHead:
    sink = Events()
    ResponseParser(sink).feed(raw)
    head = sink.events[0][1]
    assert isinstance(head, ResponseHead)
    return head


@pytest.mark.parametrize("response", RESPONSES, ids=RESPONSES.keys())
@pytest.mark.parametrize("connection", CONNECTION)
@pytest.mark.parametrize("version", ["1.0", "1.1"])
def test_persistence_table(version: str, connection: str, response: str) -> None:
    request = request_head(version, connection)
    upstream = response_head(RESPONSES[response])
    chunked, close, _ = client_framing(request, upstream, close=not request.keep_alive)
    head = client_response_head(
        upstream, request_id=b"r", chunked=chunked, close=close, http10=version == "1.0"
    )
    asked = connection == "keep-alive" if version == "1.0" else connection != "close"
    # HTTP/1.0 has no chunks: a body of unknown length can only end with the connection.
    framed_by_length = response.startswith("length")
    persists = asked and (version == "1.1" or framed_by_length)
    assert close is not persists
    announced = connection_values(head)
    if not persists:
        assert announced == [b"close"]
    elif version == "1.0":
        assert announced == [b"keep-alive"]
    else:
        assert announced == []
    assert chunked is (version == "1.1" and not framed_by_length)


async def read_response(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 2)
    length = re.search(rb"(?i)content-length: *(\d+)", head)
    assert length is not None, head
    return head, await asyncio.wait_for(reader.readexactly(int(length.group(1))), 2)


async def test_http10_keep_alive_client_gets_several_answers_on_one_connection(
    backends: list[ScriptedBackend], start_balancer: StartBalancer
) -> None:
    balancer = await start_balancer([b.url for b in backends])
    assert balancer.listen_address is not None
    reader, writer = await asyncio.open_connection("127.0.0.1", balancer.listen_address.port)
    try:
        bodies = []
        for _ in range(6):
            writer.write(b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n")
            head, body = await read_response(reader)
            assert connection_values(head) == [b"keep-alive"], head
            bodies.append(body)
        # An error of the balancer's own keeps the connection too.
        writer.write(
            b"POST / HTTP/1.0\r\nConnection: Keep-Alive\r\nContent-Length: 99999999\r\n\r\n"
        )
        head, _ = await read_response(reader)
        assert head.startswith(b"HTTP/1.1 413")
        assert connection_values(head) == [b"close"], head
    finally:
        writer.close()
    assert sorted(bodies) == [b"s1", b"s1", b"s2", b"s2", b"s3", b"s3"]
    assert balancer.ctx is not None
    assert balancer.ctx.connections_total == 1


async def test_http10_client_without_keep_alive_and_chunked_answers_close(
    backends: list[ScriptedBackend], start_balancer: StartBalancer
) -> None:
    balancer = await start_balancer([backends[0].url])
    assert balancer.listen_address is not None
    for request in (
        b"GET / HTTP/1.0\r\n\r\n",
        b"GET /chunked HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n",
    ):
        reader, writer = await asyncio.open_connection("127.0.0.1", balancer.listen_address.port)
        try:
            writer.write(request)
            answer = await asyncio.wait_for(reader.read(), 2)  # ends: the balancer closed
        finally:
            writer.close()
        head, _, body = answer.partition(b"\r\n\r\n")
        assert connection_values(head) == [b"close"], head
        assert b"transfer-encoding" not in head.lower()
        assert body in (b"s1", b"hello world")


@pytest.mark.skipif(shutil.which("ab") is None, reason="ApacheBench (ab) is not installed")
async def test_apachebench_with_keep_alive_completes(
    backends: list[ScriptedBackend], start_balancer: StartBalancer
) -> None:
    balancer = await start_balancer([b.url for b in backends])
    assert balancer.listen_address is not None
    target = f"http://127.0.0.1:{balancer.listen_address.port}/"
    ab = await asyncio.create_subprocess_exec(
        "ab", "-k", "-n", "300", "-c", "5", "-s", "5", target,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    output, _ = await asyncio.wait_for(ab.communicate(), 30)
    text = output.decode()
    assert ab.returncode == 0, text
    assert re.search(r"Complete requests:\s+300\b", text), text
    assert re.search(r"Failed requests:\s+0\b", text), text
    assert re.search(r"Keep-Alive requests:\s+300\b", text), text
