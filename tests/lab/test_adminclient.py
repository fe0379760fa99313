"""The lab's admin API client: the balancer's refusals as text a reader wants."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from balancer import Balancer, BalancerConfig
from balancer.config import Address
from lab.harness.adminclient import AdminClient, AdminError, refusal


def test_an_error_answer_is_shown_as_its_message() -> None:
    body = b'{"error":{"code":"unauthorized","message":"a valid bearer token is required"}}'
    assert refusal(401, body) == "HTTP 401 unauthorized: a valid bearer token is required"
    assert refusal(502, b"Bad Gateway\n") == "HTTP 502: Bad Gateway"
    assert refusal(500, b"") == "HTTP 500"


@pytest.fixture
async def guarded() -> AsyncIterator[Balancer]:
    config = BalancerConfig(
        listen=Address("127.0.0.1", 0),
        admin=Address("127.0.0.1", 0),
        admin_token="the-right-token",
        health_interval=0.0,
    )
    balancer = Balancer(config)
    await balancer.start()
    yield balancer
    await balancer.shutdown()


async def test_a_wrong_token_is_named_without_a_bytes_repr(guarded: Balancer) -> None:
    assert guarded.admin_address is not None
    admin = AdminClient(f"http://127.0.0.1:{guarded.admin_address.port}", "a-wrong-token")
    with pytest.raises(AdminError) as caught:
        await asyncio.to_thread(admin.backends)
    assert str(caught.value) == (
        "GET /backends: HTTP 401 unauthorized: a valid bearer token is required"
    )
