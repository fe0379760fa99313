"""What the public port gives away: no metrics, no health details, no belief in a
client's own X-Forwarded-For, and a JSON 431 for an oversized header."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import aiohttp
import pytest

from lab.harness.topology import Topology
from tests.security.conftest import raw_exchange, start_stack
from tests.service.conftest import Api, unique_email

pytestmark = pytest.mark.integration

ADDRESS_LIMIT = 3


@pytest.fixture(scope="module")
def untrusting(
    tmp_path_factory: pytest.TempPathFactory, database_url: str, redis_url: str
) -> Iterator[Topology]:
    """Trusts one proxy hop, but only from 192.0.2.1: loopback clients are not proxies."""
    topology = start_stack(
        tmp_path_factory.mktemp("exposure-stack"),
        database_url,
        redis_url,
        instances=1,
        balancer=False,
        AUTH_TRUSTED_PROXIES="1",
        AUTH_TRUSTED_PROXY_ADDRS="192.0.2.1/32",
        AUTH_LOGIN_MAX_FAILURES_PER_ADDRESS=str(ADDRESS_LIMIT),
    )
    try:
        yield topology
    finally:
        topology.stop()


def an_address() -> str:
    n = uuid.uuid4().int
    return f"10.{n % 250}.{(n >> 8) % 250}.{(n >> 16) % 250 + 1}"


async def test_metrics_are_not_on_the_public_port(gateway: Api, instances: list[Api]) -> None:
    for api in (gateway, *instances):
        reply = await api.call("GET", "/metrics")
        assert (reply.status, reply.code) == (404, "not_found")
        assert reply.headers["Content-Type"] == "application/json"


async def test_public_health_says_ok_and_nothing_more(gateway: Api, instances: list[Api]) -> None:
    for api in (gateway, *instances):
        reply = await api.call("GET", "/health/ready")
        assert (reply.status, reply.json()) == (200, {"status": "ok"})


async def test_the_metrics_listener_has_the_metrics_and_the_details(
    http: aiohttp.ClientSession, stack: Topology
) -> None:
    for instance in stack.instances:
        assert instance.metrics_url is not None
        operator = Api(http, instance.metrics_url)
        metrics = await operator.call("GET", "/metrics")
        assert metrics.status == 200
        assert b"authscale_http_requests_total" in metrics.body
        ready = await operator.call("GET", "/health/ready")
        assert ready.json() == {"status": "ok", "checks": {"postgres": "ok", "redis": "ok"}}
        unknown = await operator.call("GET", "/auth/me")
        assert (unknown.status, unknown.code) == (404, "not_found")


async def test_x_forwarded_for_from_an_untrusted_peer_is_ignored(
    http: aiohttp.ClientSession, untrusting: Topology
) -> None:
    url = untrusting.instances[0].url
    for _ in range(ADDRESS_LIMIT):
        # A fresh address per guess would dodge the per-address limit, were it believed.
        spoofer = Api(http, url, default_headers={"X-Forwarded-For": an_address()})
        assert (await spoofer.login(unique_email(), "a guessed password")).status == 401
    spoofer = Api(http, url, default_headers={"X-Forwarded-For": an_address()})
    blocked = await spoofer.login(unique_email(), "a guessed password")
    assert (blocked.status, blocked.code) == (429, "too_many_attempts")


@pytest.mark.parametrize("size", [10_000, 20_000])
async def test_an_oversized_header_gets_431_with_the_json_error(stack: Topology, size: int) -> None:
    request = (
        b"GET /auth/me HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
        + b"a" * size
        + b"\r\nConnection: close\r\n\r\n"
    )
    received, _ = await raw_exchange(stack.instances[0].port, request)
    head, _, body = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 431 ")
    assert b"application/json" in head.lower()
    assert b'"code":"header_too_large"' in body
