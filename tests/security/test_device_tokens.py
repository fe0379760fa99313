"""Device tokens (OWASP's device cookie) against lockout as a denial of service.

One address locks out everyone behind it once its failures reach the limit (a NAT, or a
balancer trusted with no hops); an attacker guessing an account's password locks out
its owner. A client that logged in to an account before presents the ``device_token``
that login returned, and is limited per device instead. What is not a valid device
token of that account (garbage, another type, another account's, tampered, revoked)
changes nothing: it is never an error.
"""

from __future__ import annotations

import asyncio
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import pytest
from redis.asyncio import Redis

from lab.harness.topology import Topology
from service.emails import parse_email
from service.throttle import account_key
from tests.security.conftest import start_stack
from tests.service.conftest import PASSWORD, Api, run_service, unique_email

pytestmark = pytest.mark.integration

ACCOUNT_LIMIT = 3
ADDRESS_LIMIT = 3
DEVICE_LIMIT = 2
WINDOW = 60
PREFIX = f"authscale-devices-{uuid.uuid4().hex[:8]}:"


@pytest.fixture(scope="module")
def devices_stack(
    tmp_path_factory: pytest.TempPathFactory, database_url: str, redis_url: str
) -> Iterator[Topology]:
    topology = start_stack(
        tmp_path_factory.mktemp("devices-stack"),
        database_url,
        redis_url,
        instances=1,
        # Clients are played by X-Forwarded-For from loopback, as the balancer would send it.
        balancer=False,
        AUTH_TRUSTED_PROXIES="1",
        AUTH_TRUSTED_PROXY_ADDRS="127.0.0.1",
        AUTH_REDIS_PREFIX=PREFIX,
        AUTH_LOGIN_MAX_FAILURES=str(ACCOUNT_LIMIT),
        AUTH_LOGIN_MAX_FAILURES_PER_ADDRESS=str(ADDRESS_LIMIT),
        AUTH_LOGIN_MAX_FAILURES_PER_DEVICE=str(DEVICE_LIMIT),
        AUTH_LOGIN_WINDOW=str(WINDOW),
    )
    try:
        yield topology
    finally:
        topology.stop()


def an_address() -> str:
    n = uuid.uuid4().int
    return f"10.{n % 250}.{(n >> 8) % 250}.{(n >> 16) % 250 + 1}"


def behind(http: aiohttp.ClientSession, stack: Topology, address: str) -> Api:
    """A client the instance sees as ``address``: it trusts loopback's X-Forwarded-For."""
    return Api(http, stack.instances[0].url, default_headers={"X-Forwarded-For": address})


async def login(api: Api, email: str, password: str = PASSWORD, device: Any = None) -> Any:
    body: dict[str, Any] = {"email": email, "password": password}
    if device is not None:
        body["device_token"] = device
    return await api.call("POST", "/auth/login", json=body)


async def lock_address(api: Api) -> None:
    for _ in range(ADDRESS_LIMIT):
        assert (await login(api, unique_email(), "a guessed password")).status == 401
    locked = await login(api, unique_email(), "a guessed password")
    assert (locked.status, locked.code) == (429, "too_many_attempts")


async def signed_up_with_device(api: Api) -> tuple[str, str]:
    email = unique_email()
    assert (await api.signup(email)).status == 201
    reply = await login(api, email)
    assert reply.status == 200, reply.body
    device = reply.json()["device_token"]
    assert isinstance(device, str)
    assert len(device) >= 40
    return email, device


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    yield client
    await client.aclose()


async def test_a_known_device_logs_in_from_a_locked_out_address(
    http: aiohttp.ClientSession, devices_stack: Topology
) -> None:
    nat = behind(http, devices_stack, an_address())
    email, device = await signed_up_with_device(nat)
    await lock_address(nat)
    refused = await login(nat, email)
    assert (refused.status, refused.code) == (429, "too_many_attempts")
    admitted = await login(nat, email, device=device)
    assert admitted.status == 200, admitted.body
    assert admitted.json()["device_token"] == device  # the same device, long-lived
    # The refresh answer has the login's shape, device token included.
    refreshed = await nat.refresh(admitted.json()["refresh_token"])
    assert refreshed.json()["device_token"] == device


@pytest.mark.parametrize(
    "presented",
    ["garbage", 12345, ["a", "list"], {"an": "object"}, "", "A" * 22 + "." + "0" * 32, "x" * 5000],
)
async def test_anything_but_a_valid_device_token_counts_as_none(
    http: aiohttp.ClientSession, devices_stack: Topology, presented: Any
) -> None:
    nat = behind(http, devices_stack, an_address())
    email, _ = await signed_up_with_device(nat)
    assert (await login(nat, email, device=presented)).status == 200
    await lock_address(nat)
    refused = await login(nat, email, device=presented)
    assert (refused.status, refused.code) == (429, "too_many_attempts")


async def test_another_accounts_or_a_tampered_device_token_counts_as_none(
    http: aiohttp.ClientSession, devices_stack: Topology
) -> None:
    nat = behind(http, devices_stack, an_address())
    email, device = await signed_up_with_device(nat)
    _, foreign = await signed_up_with_device(nat)
    device_id, _, tag = device.partition(".")
    tampered = f"{device_id}.{tag[::-1]}"
    other_id = f"{foreign.partition('.')[0]}.{tag}"
    await lock_address(nat)
    for presented in (foreign, tampered, other_id):
        refused = await login(nat, email, device=presented)
        assert (refused.status, refused.code) == (429, "too_many_attempts"), presented
    assert (await login(nat, email, device=device)).status == 200


async def test_an_attacker_guessing_the_password_does_not_lock_out_the_owners_device(
    http: aiohttp.ClientSession, devices_stack: Topology
) -> None:
    owner = behind(http, devices_stack, an_address())
    email, device = await signed_up_with_device(owner)
    for _ in range(ACCOUNT_LIMIT):
        attacker = behind(http, devices_stack, an_address())
        assert (await login(attacker, email, "a guessed password")).status == 401
    # Untrusted clients of the account are locked out, wherever they come from ...
    fresh = behind(http, devices_stack, an_address())
    refused = await login(fresh, email)
    assert (refused.status, refused.code) == (429, "too_many_attempts")
    # ... but the owner's device is not.
    assert (await login(owner, email, device=device)).status == 200


async def test_a_device_is_limited_on_its_own(
    http: aiohttp.ClientSession, devices_stack: Topology, redis: Redis
) -> None:
    client = behind(http, devices_stack, an_address())
    email, device = await signed_up_with_device(client)
    for _ in range(DEVICE_LIMIT):
        assert (await login(client, email, "a wrong password", device=device)).status == 401
    blocked = await login(client, email, device=device)
    assert (blocked.status, blocked.code) == (429, "too_many_attempts")
    assert 1 <= int(blocked.headers["Retry-After"]) <= WINDOW
    # The device's failures were not counted on the account (read, not inferred: the
    # device limit is below the account's, so a login elsewhere would pass either way).
    account = account_key(parse_email(email).canonical)
    assert await redis.get(f"{PREFIX}throttle:account:{account}") is None
    elsewhere = behind(http, devices_stack, an_address())
    assert (await login(elsewhere, email)).status == 200


def revoke_devices_command(
    email: str, database_url: str, redis_url: str
) -> subprocess.CompletedProcess[str]:
    env = {"DATABASE_URL": database_url, "REDIS_URL": redis_url, "AUTH_REDIS_PREFIX": PREFIX}
    return run_service("revoke-devices", email, env=env, timeout=60)


async def test_revoke_devices_revokes_every_device_of_the_account(
    http: aiohttp.ClientSession, devices_stack: Topology, database_url: str, redis_url: str
) -> None:
    nat = behind(http, devices_stack, an_address())
    email, device = await signed_up_with_device(nat)
    second = (await login(nat, email)).json()["device_token"]
    opened = await login(nat, email, device=device)
    assert opened.json()["device_token"] == device
    other, bystander = await signed_up_with_device(nat)
    result = await asyncio.to_thread(revoke_devices_command, email.upper(), database_url, redis_url)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"revoked 2 devices of {email.upper()}"
    # A session opened with the device lives on, but never hands the token out again.
    refreshed = await nat.refresh(opened.json()["refresh_token"])
    assert refreshed.status == 200
    assert refreshed.json()["device_token"] is None
    await lock_address(nat)
    for revoked in (device, second):
        refused = await login(nat, email, device=revoked)
        assert (refused.status, refused.code) == (429, "too_many_attempts")
    # Another account's device is not touched.
    assert (await login(nat, other, device=bystander)).status == 200
    again = await asyncio.to_thread(revoke_devices_command, email, database_url, redis_url)
    assert again.stdout.strip() == f"revoked 0 devices of {email}"


def test_revoke_devices_names_an_unknown_account_or_a_bad_address(
    devices_stack: Topology, database_url: str, redis_url: str
) -> None:
    unknown = revoke_devices_command(unique_email(), database_url, redis_url)
    assert unknown.returncode == 1
    assert "no account" in unknown.stderr
    malformed = revoke_devices_command("not an address", database_url, redis_url)
    assert malformed.returncode == 2
    assert "Traceback" not in malformed.stderr + unknown.stderr


async def test_refresh_reuse_revokes_the_device_the_session_came_from(
    http: aiohttp.ClientSession, devices_stack: Topology
) -> None:
    nat = behind(http, devices_stack, an_address())
    email, device = await signed_up_with_device(nat)
    opened = await login(nat, email, device=device)
    first = opened.json()["refresh_token"]
    assert (await nat.refresh(first)).status == 200
    reused = await nat.refresh(first)
    assert (reused.status, reused.code) == (401, "token_reused")
    await lock_address(nat)
    refused = await login(nat, email, device=device)
    assert (refused.status, refused.code) == (429, "too_many_attempts")
