"""The trivial endpoint the generator is measured against: the auth scenario's four routes
answered with static responses, by nginx ``return`` when nginx is installed, else by a
minimal asyncio server in a separate process."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import ClassVar, cast

from lab.harness import procs

SIGNUP = b'{"id":"1","email":"bench@example.com"}'
LOGIN = b'{"access_token":"a1","refresh_token":"r1","token_type":"Bearer","expires_in":900}'
REFRESH = b'{"access_token":"a2","refresh_token":"r2","token_type":"Bearer","expires_in":900}'

_NGINX_CONF = """
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    keepalive_requests 1000000;
    keepalive_timeout 120s;
    client_body_temp_path {prefix}/body;
    default_type application/json;
    server {{
        listen 127.0.0.1:{port};
        location = /auth/signup {{ return 201 '{signup}'; }}
        location = /auth/login {{ return 200 '{login}'; }}
        location = /auth/refresh {{ return 200 '{refresh}'; }}
        location = /auth/logout {{ return 204; }}
    }}
}}
"""


@contextmanager
def trivial_server() -> Iterator[tuple[str, str]]:
    """(URL, kind) of a fast static auth endpoint, stopped on exit."""
    port = procs.free_port()
    nginx = shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )
    with tempfile.TemporaryDirectory(prefix="loadgen-bench-") as prefix:
        if nginx:
            conf = Path(prefix) / "nginx.conf"
            conf.write_text(
                _NGINX_CONF.format(
                    prefix=prefix,
                    port=port,
                    signup=SIGNUP.decode(),
                    login=LOGIN.decode(),
                    refresh=REFRESH.decode(),
                )
            )
            command = [nginx, "-c", str(conf), "-p", prefix, "-g", "daemon off;"]
            kind = "nginx"
        else:
            command = [sys.executable, "-m", "lab.experiments.loadgenbench", "--serve", str(port)]
            kind = "asyncio static server"
        server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            if not procs.wait_until(lambda: procs.port_open("127.0.0.1", port), timeout=10.0):
                raise RuntimeError(f"the trivial server did not listen on port {port}")
            yield f"http://127.0.0.1:{port}", kind
        finally:
            server.terminate()
            server.wait(timeout=10)


class _StaticAuth(asyncio.Protocol):
    """A minimal HTTP/1.1 keep-alive responder for the fallback server."""

    _ROUTES: ClassVar[dict[bytes, bytes]] = {
        b"/auth/signup": b"201 Created",
        b"/auth/login": b"200 OK",
        b"/auth/refresh": b"200 OK",
        b"/auth/logout": b"204 No Content",
    }
    _BODIES: ClassVar[dict[bytes, bytes]] = {
        b"/auth/signup": SIGNUP,
        b"/auth/login": LOGIN,
        b"/auth/refresh": REFRESH,
    }

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's TCP transport writes like asyncio.Transport without subclassing it.
        self._transport = cast(asyncio.Transport, transport)
        self._buffer = b""

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        while True:
            head_end = self._buffer.find(b"\r\n\r\n")
            if head_end < 0:
                return
            head = self._buffer[:head_end].lower()
            length = 0
            marker = head.find(b"content-length:")
            if marker >= 0:
                length = int(head[marker + 15 :].split(b"\r\n", 1)[0])
            if len(self._buffer) < head_end + 4 + length:
                return
            path = self._buffer.split(b" ", 2)[1]
            self._buffer = self._buffer[head_end + 4 + length :]
            status = self._ROUTES.get(path, b"404 Not Found")
            body = self._BODIES.get(path, b"")
            self._transport.write(
                b"HTTP/1.1 " + status + b"\r\nContent-Type: application/json\r\n"
                b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
            )


async def serve(port: int) -> None:
    """The fallback server: answer on port until killed."""
    loop = asyncio.get_running_loop()
    server = await loop.create_server(_StaticAuth, "127.0.0.1", port)
    async with server:
        await server.serve_forever()
