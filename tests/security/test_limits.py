"""Limits on what one client can make the service do: signups per address (checked before
the password is hashed), live sessions per user, and the exemption of a known load
generator (``AUTH_RATE_LIMIT_EXEMPT``) from the per-address limits."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import aiohttp
import pytest

from lab.harness.topology import Topology
from tests.security.conftest import start_stack
from tests.service.conftest import Api, unique_email

pytestmark = pytest.mark.integration

SIGNUPS = 3
SIGNUP_WINDOW = 60
SESSIONS = 2
EXEMPT = "203.0.113.0/24"


@pytest.fixture(scope="module")
def limited(
    tmp_path_factory: pytest.TempPathFactory, database_url: str, redis_url: str
) -> Iterator[Topology]:
    topology = start_stack(
        tmp_path_factory.mktemp("limits-stack"),
        database_url,
        redis_url,
        instances=1,
        # Clients are played by X-Forwarded-For from loopback, as the balancer would send it.
        balancer=False,
        AUTH_TRUSTED_PROXIES="1",
        AUTH_TRUSTED_PROXY_ADDRS="127.0.0.1",
        AUTH_SIGNUP_MAX_PER_ADDRESS=str(SIGNUPS),
        AUTH_SIGNUP_WINDOW=str(SIGNUP_WINDOW),
        AUTH_MAX_SESSIONS_PER_USER=str(SESSIONS),
        AUTH_LOGIN_MAX_FAILURES_PER_ADDRESS="2",
        AUTH_RATE_LIMIT_EXEMPT=EXEMPT,
    )
    try:
        yield topology
    finally:
        topology.stop()


def an_address() -> str:
    n = uuid.uuid4().int
    return f"10.{n % 250}.{(n >> 8) % 250}.{(n >> 16) % 250 + 1}"


def behind(http: aiohttp.ClientSession, stack: Topology, address: str) -> Api:
    return Api(http, stack.instances[0].url, default_headers={"X-Forwarded-For": address})


async def hashes_so_far(http: aiohttp.ClientSession, stack: Topology) -> float:
    url = stack.instances[0].metrics_url
    assert url is not None
    async with http.get(f"{url}/metrics") as response:
        page = await response.text()
    for line in page.splitlines():
        if line.startswith('authscale_bcrypt_duration_seconds_count{operation="hash"}'):
            return float(line.split()[-1])
    return 0.0


async def test_signups_per_address_are_limited_before_any_hashing(
    http: aiohttp.ClientSession, limited: Topology
) -> None:
    client = behind(http, limited, an_address())
    for _ in range(SIGNUPS):
        assert (await client.signup(unique_email())).status == 201
    hashed = await hashes_so_far(http, limited)
    refused = await client.signup(unique_email())
    assert (refused.status, refused.code) == (429, "too_many_requests")
    assert 1 <= int(refused.headers["Retry-After"]) <= SIGNUP_WINDOW
    assert await hashes_so_far(http, limited) == hashed
    # Another address is not affected.
    assert (await behind(http, limited, an_address()).signup(unique_email())).status == 201


async def test_an_exempt_address_skips_the_per_address_limits(
    http: aiohttp.ClientSession, limited: Topology
) -> None:
    generator = behind(http, limited, "203.0.113.7")
    for _ in range(SIGNUPS + 2):
        assert (await generator.signup(unique_email())).status == 201
    for _ in range(4):
        assert (await generator.login(unique_email(), "a failing password")).status == 401
    user = await generator.new_user(login=False)
    assert (await generator.login(user.email)).status == 200


async def test_per_account_limits_still_apply_to_an_exempt_address(
    http: aiohttp.ClientSession, limited: Topology
) -> None:
    generator = behind(http, limited, "203.0.113.8")
    user = await generator.new_user(login=False)
    for _ in range(10):  # AUTH_LOGIN_MAX_FAILURES' default
        assert (await generator.login(user.email, "a failing password")).status == 401
    blocked = await generator.login(user.email)
    assert (blocked.status, blocked.code) == (429, "too_many_attempts")


async def test_live_sessions_per_user_are_capped_oldest_revoked_first(
    http: aiohttp.ClientSession, limited: Topology
) -> None:
    client = behind(http, limited, an_address())
    user = await client.new_user(login=False)
    sessions = []
    for _ in range(SESSIONS + 1):
        reply = await client.login(user.email)
        assert reply.status == 200
        sessions.append(reply.json())
    oldest, *kept = sessions
    assert (await client.me(oldest["access_token"])).status == 401
    revoked = await client.refresh(oldest["refresh_token"])
    assert (revoked.status, revoked.code) == (401, "invalid_token")
    for tokens in kept:
        assert (await client.me(tokens["access_token"])).status == 200
        assert (await client.refresh(tokens["refresh_token"])).status == 200
