"""What the service says at start: which stores it uses (never a password), and, when
Postgres does not answer, a line a second while it waits, then one line and exit 1."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from service.stores import Notice, postgres_location, redis_location
from tests.service.conftest import run_service, start_service


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://auth:s3cret@127.0.0.1:5433/auth", "127.0.0.1:5433/auth"),
        ("postgres://postgres@db/postgres", "db:5432/postgres"),
        ("postgresql://u:p@[::1]:6543/x", "[::1]:6543/x"),
        ("postgresql://u@/auth?host=/run/postgresql", "/run/postgresql:5432/auth"),
    ],
)
def test_postgres_is_named_by_address_and_database(url: str, shown: str) -> None:
    assert postgres_location(url) == shown


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://127.0.0.1:6379/0", "127.0.0.1:6379/0"),
        ("rediss://default:s3cret@cache:6380/2", "cache:6380/2"),
        ("redis://:s3cret@cache", "cache:6379/0"),
        ("unix:///run/redis.sock?db=3", "unix:/run/redis.sock/3"),
    ],
)
def test_redis_is_named_by_address_and_database(url: str, shown: str) -> None:
    assert redis_location(url) == shown
    assert "s3cret" not in redis_location(url)


def test_a_notice_is_due_at_most_once_per_interval() -> None:
    notice = Notice(1.0)
    due = [t for t in (0.0, 0.5, 0.99, 1.0, 1.5, 2.2, 2.7, 3.2) if notice.due(t)]
    assert due == [0.0, 1.0, 2.2, 3.2]


def test_unanswered_postgres_is_one_line_a_second_then_one_line_and_exit_1() -> None:
    env = {
        "DATABASE_URL": "postgresql://auth:s3cret@127.0.0.1:1/auth",
        "REDIS_URL": "redis://127.0.0.1:1/0",
        "AUTH_STARTUP_TIMEOUT": "2.5",
        "AUTH_LOG_FORMAT": "text",
    }
    done = run_service("--dev", "--host", "127.0.0.1", "--port", "0", env=env, timeout=60)
    assert done.returncode == 1
    lines = done.stderr.splitlines()
    assert "Traceback" not in done.stderr
    assert "s3cret" not in done.stderr
    waiting = [line for line in lines if "waiting for PostgreSQL at 127.0.0.1:1/auth" in line]
    # Retried every half second, said once a second: 0 s, 1 s, 2 s.
    assert 2 <= len(waiting) <= 3, done.stderr
    assert lines[-1].startswith(
        "python -m service: cannot start: PostgreSQL did not answer at 127.0.0.1:1/auth "
        "within 2.5 s:"
    )


@pytest.mark.integration
async def test_the_startup_line_names_the_stores_without_a_password(
    service_env: Callable[..., dict[str, str]],
    database_url: str,
    redis_url: str,
    tmp_path: Path,
) -> None:
    env = service_env(AUTH_LOG_FORMAT="text")
    service = await asyncio.to_thread(start_service, env, tmp_path / "service.log")
    try:
        line = next(x for x in service.log().splitlines() if "serving on" in x)
    finally:
        await asyncio.to_thread(service.stop)
    postgres, redis = urlsplit(database_url), urlsplit(redis_url)
    database = postgres.path.lstrip("/")
    assert f"Postgres {postgres.hostname}:{postgres.port}/{database}, " in line
    assert f"Redis {redis.hostname}:{redis.port}/{redis.path.lstrip('/') or '0'};" in line
    for secret in (postgres.password, redis.password):
        assert not secret or secret not in line


@pytest.mark.integration
def test_unanswered_redis_is_named_too(service_env: Callable[..., dict[str, str]]) -> None:
    env = service_env(
        REDIS_URL="redis://:s3cret@127.0.0.1:1/4",
        AUTH_STARTUP_TIMEOUT="1.5",
        AUTH_LOG_FORMAT="text",
    )
    done = run_service("--host", "127.0.0.1", "--port", "0", env=env, timeout=60)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert "s3cret" not in done.stderr
    waiting = [x for x in done.stderr.splitlines() if "waiting for Redis at 127.0.0.1:1/4" in x]
    assert 1 <= len(waiting) <= 2, done.stderr
    assert done.stderr.splitlines()[-1].startswith(
        "python -m service: cannot start: Redis did not answer at 127.0.0.1:1/4 within 1.5 s:"
    )
