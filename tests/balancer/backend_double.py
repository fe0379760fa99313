"""A real HTTP/1.1 server on loopback that tests can script, count and kill."""

from __future__ import annotations

import asyncio
from collections import Counter

import orjson


class ScriptedBackend:
    """Routes: ``/`` (its name), ``/health/ready`` (200, or 503 when ``healthy`` is False),
    ``/slow`` (answers after ``delay`` s), ``/hang`` (never answers), ``/stall`` (sends 3 of
    10 body bytes, then nothing), ``/reset`` (counts the
    request, then drops the connection), ``/headers`` (the request headers as JSON),
    ``/echo`` (the request body), ``/chunked`` (a chunked response), ``/timed`` (with a
    Server-Timing field of its own), ``/status/<n>``."""

    def __init__(self, name: str, *, delay: float = 0.2) -> None:
        self.name = name
        self.delay = delay
        self.healthy = True
        self.requests: Counter[str] = Counter()
        # Every request head as received, so tests can see repeated or injected fields.
        self.heads: list[bytes] = []
        self.answered: Counter[str] = Counter()
        self.in_flight = 0
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def served(self) -> int:
        return sum(n for key, n in self.requests.items() if "/health" not in key)

    async def start(self, port: int = 0, host: str = "127.0.0.1") -> ScriptedBackend:
        self._server = await asyncio.start_server(self._handle, host, port or self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def kill(self) -> None:
        """Stop listening and drop every open connection, like a crashed process."""
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                self.heads.append(head)
                lines = head.decode("latin-1").split("\r\n")
                method, target, _ = lines[0].split(" ", 2)
                headers: dict[str, str] = {}
                for line in lines[1:]:
                    if line:
                        name, _, value = line.partition(":")
                        headers[name.strip().lower()] = value.strip()
                body = b""
                if "content-length" in headers:
                    body = await reader.readexactly(int(headers["content-length"]))
                elif headers.get("transfer-encoding") == "chunked":
                    body = await _read_chunked(reader)
                self.requests[f"{method} {target}"] += 1
                self.in_flight += 1
                try:
                    keep = await self._respond(method, target, headers, body, writer)
                finally:
                    self.in_flight -= 1
                if not keep:
                    break
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            # Cancelled by kill(): end quietly, as the process it stands for would be gone.
            pass
        finally:
            self._tasks.discard(task)
            self._writers.discard(writer)
            writer.transport.abort()

    async def _respond(
        self,
        method: str,
        target: str,
        headers: dict[str, str],
        body: bytes,
        writer: asyncio.StreamWriter,
    ) -> bool:
        status, payload = 200, self.name.encode()
        path = target.split("?")[0]
        if path == "/health/ready":
            status, payload = (200, b"ok") if self.healthy else (503, b"not ready")
        elif path == "/slow":
            await asyncio.sleep(self.delay)
        elif path == "/hang":
            await asyncio.sleep(3600)
        elif path == "/stall":
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nabc")
            await writer.drain()
            await asyncio.sleep(3600)
        elif path == "/reset":
            writer.transport.abort()
            return False
        elif path == "/headers":
            payload = orjson.dumps(headers)
        elif path == "/echo":
            payload = body
        elif path.startswith("/status/"):
            status = int(path.rsplit("/", 1)[1])
        elif path == "/timed":
            # The backend's own Server-Timing, which the balancer's entries must follow.
            payload = self.name.encode()
            writer.write(
                b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\nserver-timing: app;dur=1.5, "
                b"db;dur=0.25\r\n\r\n%s" % (len(payload), payload)
            )
            await writer.drain()
            return True
        elif path == "/chunked":
            writer.write(
                b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\nx-backend: "
                + self.name.encode()
                + b"\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
            )
            await writer.drain()
            return True
        writer.write(
            b"HTTP/1.1 %d X\r\ncontent-length: %d\r\nx-backend: %s\r\nconnection: keep-alive\r\n"
            b"keep-alive: timeout=60\r\n\r\n" % (status, len(payload), self.name.encode())
        )
        if method != "HEAD":
            writer.write(payload)
        await writer.drain()
        self.answered[f"{method} {target}"] += 1
        return True


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    body = b""
    while True:
        size = int((await reader.readline()).strip(), 16)
        if size == 0:
            # Trailer fields, if any, up to the empty line.
            while (await reader.readline()).strip():
                pass
            return body
        body += await reader.readexactly(size)
        await reader.readexactly(2)
