"""Backing stores going away: 503 ``unavailable`` quickly, never a hang, and recovery."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from urllib.parse import urlsplit

import aiohttp
import pytest
from redis.asyncio import Redis

from lab.harness.procs import free_port
from tests.service.conftest import Api, ServiceProcess, unique_email
from tests.service.faults import CuttableProxy, PrivateRedis

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def private_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateRedis]:
    redis = PrivateRedis(free_port(), tmp_path_factory.mktemp("redis"))
    redis.start()
    yield redis
    redis.stop()


@pytest.fixture(scope="module")
def postgres_link(database_url: str) -> Iterator[CuttableProxy | None]:
    """A cuttable TCP link to Postgres, or None when it is not reached over TCP."""
    parts = urlsplit(database_url)
    if not parts.hostname:
        yield None
        return
    proxy = CuttableProxy(free_port(), (parts.hostname, parts.port or 5432))
    proxy.start()
    yield proxy
    proxy.close()


def through(database_url: str, port: int | None) -> str:
    """``database_url`` pointed at 127.0.0.1:``port`` (unchanged for None)."""
    if port is None:
        return database_url
    parts = urlsplit(database_url)
    user, at, _ = parts.netloc.rpartition("@")
    return parts._replace(netloc=f"{user}{at}127.0.0.1:{port}").geturl()


@pytest.fixture(scope="module")
def fragile_service(
    spawn: Callable[..., ServiceProcess],
    private_redis: PrivateRedis,
    postgres_link: CuttableProxy | None,
    database_url: str,
) -> ServiceProcess:
    return spawn(
        "fragile",
        AUTH_INSTANCE_ID="fragile",
        REDIS_URL=private_redis.url,
        DATABASE_URL=through(database_url, postgres_link.port if postgres_link else None),
        AUTH_IO_TIMEOUT="0.5",
        AUTH_DB_POOL_MIN="1",
    )


@pytest.fixture
def fapi(http: aiohttp.ClientSession, fragile_service: ServiceProcess) -> Api:
    return Api(http, fragile_service.url)


@pytest.fixture
def operator(http: aiohttp.ClientSession, fragile_service: ServiceProcess) -> Api:
    """The metrics listener, where health details are."""
    return Api(http, fragile_service.metrics_url)


async def timed(call: object) -> tuple[float, object]:
    started = time.monotonic()
    result = await call  # type: ignore[misc]
    return time.monotonic() - started, result


async def wait_ready(api: Api, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if (await api.call("GET", "/health/ready")).status == 200:
            return
        await asyncio.sleep(0.1)
    raise AssertionError("the instance did not become ready again")


async def test_redis_stopped_gives_503_then_recovers(
    fapi: Api, operator: Api, private_redis: PrivateRedis
) -> None:
    user = await fapi.new_user()
    private_redis.stop()
    try:
        started = time.monotonic()
        me = await fapi.me(user.access)
        login = await fapi.login(user.email)
        refresh = await fapi.refresh(user.refresh)
        elapsed = time.monotonic() - started
        for reply in (me, login, refresh):
            assert (reply.status, reply.code) == (503, "unavailable")
            assert reply.headers["Retry-After"] == "1"
        assert elapsed < 3.0
        ready = await fapi.call("GET", "/health/ready")
        assert (ready.status, ready.json()["status"]) == (503, "unavailable")
        assert "checks" not in ready.json()
        details = await operator.call("GET", "/health/ready")
        assert details.status == 503
        assert details.json()["checks"] == {"postgres": "ok", "redis": "unavailable"}
        assert (await fapi.call("GET", "/health/live")).status == 200
        # Signup needs only Postgres.
        assert (await fapi.signup(unique_email())).status == 201
    finally:
        private_redis.start()
    await wait_ready(fapi)
    # Redis came back empty: old sessions are gone, new ones work.
    assert (await fapi.me(user.access)).status == 401
    again = await fapi.login(user.email)
    assert again.status == 200
    assert (await fapi.me(again.json()["access_token"])).status == 200


async def test_redis_hanging_gives_503_within_the_timeout(
    fapi: Api, private_redis: PrivateRedis
) -> None:
    user = await fapi.new_user()
    private_redis.pause()
    try:
        started = time.monotonic()
        me = await fapi.me(user.access)
        elapsed = time.monotonic() - started
        assert (me.status, me.code) == (503, "unavailable")
        assert elapsed < 2.5
        ready = await fapi.call("GET", "/health/ready")
        assert ready.status == 503
    finally:
        private_redis.resume()
    await wait_ready(fapi)
    assert (await fapi.me(user.access)).status == 200


async def test_postgres_cut_gives_503_then_recovers(
    fapi: Api,
    operator: Api,
    postgres_link: CuttableProxy | None,
    private_redis: PrivateRedis,
    redis_prefix: str,
) -> None:
    if postgres_link is None:
        pytest.skip("Postgres is reached through a Unix socket; no TCP link to cut")
    user = await fapi.new_user()
    postgres_link.cut()
    try:
        started = time.monotonic()
        signup = await fapi.signup(unique_email())
        login = await fapi.login(user.email)
        elapsed = time.monotonic() - started
        for reply in (signup, login):
            assert (reply.status, reply.code) == (503, "unavailable")
        assert elapsed < 3.0
        # The login that got no answer no longer holds a place in its address's limit.
        redis = Redis.from_url(private_redis.url)
        try:
            held = await redis.zcard(f"{redis_prefix}throttle:in-flight:127.0.0.1")
        finally:
            await redis.aclose()
        assert held == 0
        ready = await fapi.call("GET", "/health/ready")
        assert ready.status == 503
        details = await operator.call("GET", "/health/ready")
        assert details.json()["checks"] == {"postgres": "unavailable", "redis": "ok"}
        # Token checks need only Redis.
        assert (await fapi.me(user.access)).status == 200
    finally:
        postgres_link.start()
    await wait_ready(fapi)
    assert (await fapi.login(user.email)).status == 200


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql://postgres@127.0.0.1:5432/test", "postgresql://postgres@127.0.0.1:7777/test"),
        (
            "postgresql://u:p@db/x?sslmode=disable",
            "postgresql://u:p@127.0.0.1:7777/x?sslmode=disable",
        ),
        ("postgresql://localhost/x", "postgresql://127.0.0.1:7777/x"),
    ],
)
def test_through_rewrites_only_the_address(url: str, expected: str) -> None:
    assert through(url, 7777) == expected
    assert through(url, None) == url
