"""Login throttling against a real instance with small limits and a 2 s window.

The instance trusts one proxy hop, so each test plays distinct clients by sending the
X-Forwarded-For a trusted proxy would append.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable

import aiohttp
import pytest

from service.addresses import client_address, limit_key, parse_networks
from tests.service.conftest import Api, ServiceProcess, unique_email

WINDOW = 2


@pytest.fixture(scope="module")
def throttled_service(spawn: Callable[..., ServiceProcess]) -> ServiceProcess:
    return spawn(
        "throttled",
        AUTH_INSTANCE_ID="throttled",
        AUTH_LOGIN_MAX_FAILURES="3",
        AUTH_LOGIN_MAX_FAILURES_PER_ADDRESS="6",
        AUTH_LOGIN_WINDOW=str(WINDOW),
        AUTH_TRUSTED_PROXIES="1",
        AUTH_TRUSTED_PROXY_ADDRS="127.0.0.1/32",
        # The per-test prefix keeps counters of different runs apart.
        AUTH_REDIS_PREFIX=f"authscale-throttle-{uuid.uuid4().hex[:8]}:",
    )


@pytest.fixture
def tapi(http: aiohttp.ClientSession, throttled_service: ServiceProcess) -> Api:
    # Each test is a distinct client unless it says otherwise.
    return Api(http, throttled_service.url, default_headers={"X-Forwarded-For": from_address()})


def from_address() -> str:
    return f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250 + 1}"


@pytest.mark.integration
async def test_account_is_throttled_then_released(tapi: Api) -> None:
    user = await tapi.new_user(login=False)
    address = from_address()
    for _ in range(3):
        failed = await tapi.login(user.email, "wrong password!", **{"X-Forwarded-For": address})
        assert failed.status == 401
    # Even the right password waits now: the attacker learns nothing from it.
    blocked = await tapi.login(user.email, **{"X-Forwarded-For": from_address()})
    assert (blocked.status, blocked.code) == (429, "too_many_attempts")
    retry_after = int(blocked.headers["Retry-After"])
    assert 1 <= retry_after <= WINDOW

    # Other users, even from the same address, are not affected.
    other = await tapi.new_user(login=False)
    assert (await tapi.login(other.email, **{"X-Forwarded-For": address})).status == 200

    await asyncio.sleep(retry_after + 0.2)
    released = await tapi.login(user.email, **{"X-Forwarded-For": address})
    assert released.status == 200


@pytest.mark.integration
async def test_a_burst_of_parallel_guesses_gets_no_more_than_the_limit(tapi: Api) -> None:
    user = await tapi.new_user(login=False)
    replies = await asyncio.gather(
        *(tapi.login(user.email, f"guess number {i}") for i in range(12))
    )
    statuses = sorted(reply.status for reply in replies)
    assert statuses == [401] * 3 + [429] * 9


@pytest.mark.integration
async def test_success_clears_the_account_count(tapi: Api) -> None:
    user = await tapi.new_user(login=False)
    for _ in range(2):
        assert (await tapi.login(user.email, "wrong password!")).status == 401
    assert (await tapi.login(user.email)).status == 200
    for _ in range(2):
        assert (await tapi.login(user.email, "wrong password!")).status == 401
    assert (await tapi.login(user.email)).status == 200


@pytest.mark.integration
async def test_unknown_accounts_are_throttled_like_real_ones(tapi: Api) -> None:
    email = unique_email()
    for _ in range(3):
        assert (await tapi.login(email, "whatever password")).status == 401
    blocked = await tapi.login(email, "whatever password", **{"X-Forwarded-For": from_address()})
    assert (blocked.status, blocked.code) == (429, "too_many_attempts")


@pytest.mark.integration
async def test_address_is_throttled_across_accounts(tapi: Api) -> None:
    user = await tapi.new_user(login=False)
    address = from_address()
    for _ in range(6):
        # A spoofed first entry does not help: only the hop the proxy appended counts.
        spoofed = f"{from_address()}, {address}"
        reply = await tapi.login(
            unique_email(), "a guessed password", **{"X-Forwarded-For": spoofed}
        )
        assert reply.status == 401
    blocked = await tapi.login(user.email, **{"X-Forwarded-For": address})
    assert (blocked.status, blocked.code) == (429, "too_many_attempts")
    assert (await tapi.login(user.email, **{"X-Forwarded-For": from_address()})).status == 200


@pytest.mark.integration
async def test_throttled_logins_are_counted_in_metrics(
    tapi: Api, throttled_service: ServiceProcess
) -> None:
    email = unique_email()
    for _ in range(4):
        await tapi.login(email, "whatever password")
    operator = Api(tapi.session, throttled_service.metrics_url)
    metrics = (await operator.call("GET", "/metrics")).body.decode()
    throttled = [
        line
        for line in metrics.splitlines()
        if line.startswith('authscale_logins_total{result="throttled"}')
    ]
    assert throttled
    assert float(throttled[0].split()[-1]) >= 1


@pytest.mark.parametrize(
    ("peer", "forwarded", "trusted", "expected"),
    [
        ("127.0.0.1", ["203.0.113.7"], 0, "127.0.0.1"),
        ("127.0.0.1", ["203.0.113.7"], 1, "203.0.113.7"),
        ("127.0.0.1", ["1.1.1.1, 203.0.113.7"], 1, "203.0.113.7"),
        ("127.0.0.1", ["1.1.1.1", "203.0.113.7"], 1, "203.0.113.7"),
        ("127.0.0.1", ["1.1.1.1, 203.0.113.7, 10.0.0.2"], 2, "203.0.113.7"),
        ("127.0.0.1", ["203.0.113.7"], 2, "127.0.0.1"),
        ("127.0.0.1", ["not-an-ip"], 1, "127.0.0.1"),
        ("127.0.0.1", [], 1, "127.0.0.1"),
        ("127.0.0.1", [" 2001:db8::1 "], 1, "2001:db8::1"),
        # A peer that is no trusted proxy: its X-Forwarded-For is its own invention.
        ("192.0.2.9", ["203.0.113.7"], 1, "192.0.2.9"),
        ("192.0.2.9", ["1.1.1.1, 203.0.113.7"], 2, "192.0.2.9"),
        # IPv4 peers on a dual-stack socket: one spelling, and trusted as the IPv4 they are.
        ("::ffff:192.0.2.9", ["203.0.113.7"], 0, "192.0.2.9"),
        ("::ffff:192.0.2.9", ["203.0.113.7"], 1, "192.0.2.9"),
        ("::ffff:127.0.0.1", ["203.0.113.7"], 1, "203.0.113.7"),
        ("127.0.0.1", ["::ffff:203.0.113.7"], 1, "203.0.113.7"),
    ],
)
def test_client_address(peer: str, forwarded: list[str], trusted: int, expected: str) -> None:
    loopback = parse_networks(["127.0.0.0/8"], name="test")
    assert client_address(peer, forwarded, trusted, loopback) == expected


@pytest.mark.parametrize(
    ("address", "key"),
    [
        ("198.51.100.7", "198.51.100.7"),
        ("::ffff:198.51.100.7", "198.51.100.7"),
        ("2001:db8:1:2::1", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"),
        ("2001:db8:1:3::1", "2001:db8:1:3::/64"),
        ("not an address", "not an address"),
    ],
)
def test_per_address_limits_key_ipv6_clients_by_their_64(address: str, key: str) -> None:
    assert limit_key(address) == key


@pytest.fixture(scope="module")
def ipv6_service(spawn: Callable[..., ServiceProcess]) -> ServiceProcess:
    return spawn(
        "ipv6-limits",
        AUTH_INSTANCE_ID="ipv6-limits",
        AUTH_LOGIN_MAX_FAILURES_PER_ADDRESS="3",
        AUTH_SIGNUP_MAX_PER_ADDRESS="2",
        AUTH_TRUSTED_PROXIES="1",
        AUTH_TRUSTED_PROXY_ADDRS="127.0.0.1/32",
        AUTH_REDIS_PREFIX=f"authscale-ipv6-{uuid.uuid4().hex[:8]}:",
    )


def in_64(prefix: str, host: int) -> dict[str, str]:
    return {"X-Forwarded-For": f"{prefix}::{host:x}"}


def a_64() -> str:
    n = uuid.uuid4().int
    return f"2001:db8:{n % 0xFFFF:x}:{(n >> 16) % 0xFFFF:x}"


@pytest.mark.integration
async def test_ipv6_logins_are_limited_per_64(
    http: aiohttp.ClientSession, ipv6_service: ServiceProcess
) -> None:
    api = Api(http, ipv6_service.url)
    prefix = a_64()
    for host in range(1, 4):
        reply = await api.login(unique_email(), "a guessed password", **in_64(prefix, host))
        assert reply.status == 401
    # Another address of the same /64 is the same client.
    blocked = await api.login(unique_email(), "a guessed password", **in_64(prefix, 0xBEEF))
    assert (blocked.status, blocked.code) == (429, "too_many_attempts")
    elsewhere = await api.login(unique_email(), "a guessed password", **in_64(a_64(), 1))
    assert elsewhere.status == 401


@pytest.mark.integration
async def test_ipv6_signups_are_limited_per_64(
    http: aiohttp.ClientSession, ipv6_service: ServiceProcess
) -> None:
    api = Api(http, ipv6_service.url)
    prefix = a_64()
    for host in range(1, 3):
        reply = await api.call(
            "POST",
            "/auth/signup",
            json={"email": unique_email(), "password": "long enough and unusual"},
            headers=in_64(prefix, host),
        )
        assert reply.status == 201
    refused = await api.call(
        "POST",
        "/auth/signup",
        json={"email": unique_email(), "password": "long enough and unusual"},
        headers=in_64(prefix, 0xBEEF),
    )
    assert (refused.status, refused.code) == (429, "too_many_requests")


@pytest.mark.integration
async def test_ipv4_mapped_and_plain_ipv4_are_one_client(
    http: aiohttp.ClientSession, ipv6_service: ServiceProcess
) -> None:
    api = Api(http, ipv6_service.url)
    n = uuid.uuid4().int
    plain = f"198.51.{n % 250}.{(n >> 8) % 250 + 1}"
    for forwarded in (plain, f"::ffff:{plain}", plain):
        reply = await api.login(
            unique_email(), "a guessed password", **{"X-Forwarded-For": forwarded}
        )
        assert reply.status == 401
    blocked = await api.login(
        unique_email(), "a guessed password", **{"X-Forwarded-For": f"::ffff:{plain}"}
    )
    assert (blocked.status, blocked.code) == (429, "too_many_attempts")
