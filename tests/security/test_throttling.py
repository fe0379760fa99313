"""Login throttling against an attacker who spreads guesses over instances, spellings of
the address and parallel connections (one Redis holds the counters of every instance).

The per-instance behaviour (release after the window, success clearing the count, address
limits, spoofed X-Forwarded-For) is in ``tests/service/test_throttle.py``.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Iterator

import aiohttp
import pytest

from lab.harness.topology import Topology
from tests.security.conftest import start_stack
from tests.service.conftest import Api, unique_email

pytestmark = pytest.mark.integration

LIMIT = 3
ADDRESS_LIMIT = 5
WINDOW = 30


@pytest.fixture(scope="module")
def throttled(
    tmp_path_factory: pytest.TempPathFactory, database_url: str, redis_url: str
) -> Iterator[Topology]:
    topology = start_stack(
        tmp_path_factory.mktemp("throttled-stack"),
        database_url,
        redis_url,
        AUTH_LOGIN_MAX_FAILURES=str(LIMIT),
        AUTH_LOGIN_MAX_FAILURES_PER_ADDRESS=str(ADDRESS_LIMIT),
        AUTH_LOGIN_WINDOW=str(WINDOW),
    )
    try:
        yield topology
    finally:
        topology.stop()


def client_address() -> str:
    n = uuid.uuid4().int
    return f"10.{n % 250}.{(n >> 8) % 250}.{(n >> 16) % 250 + 1}"


@pytest.fixture
def apis(http: aiohttp.ClientSession, throttled: Topology) -> list[Api]:
    """The balancer, then each instance; instances see the address a proxy would append."""
    direct = {"X-Forwarded-For": client_address()}
    return [
        Api(http, throttled.entry_url),
        *(Api(http, i.url, default_headers=direct) for i in throttled.instances),
    ]


async def test_guesses_spread_over_instances_share_one_count(apis: list[Api]) -> None:
    user = await apis[0].new_user(login=False)
    for api in apis[:LIMIT]:
        assert (await api.login(user.email, "a wrong guess")).status == 401
    for api in apis:
        blocked = await api.login(user.email)
        assert (blocked.status, blocked.code) == (429, "too_many_attempts")
        assert 1 <= int(blocked.headers["Retry-After"]) <= WINDOW


async def test_spellings_of_one_address_share_one_count(apis: list[Api]) -> None:
    local = unique_email().split("@")[0]
    assert (await apis[0].signup(f"{local}@example.com")).status == 201
    spellings = [
        f"{local.upper()}@EXAMPLE.COM",
        f"{local}@ｅｘａｍｐｌｅ.com",
        f"{local}@Example.Com",
    ]
    for api, spelling in zip(apis, spellings, strict=True):
        assert (await api.login(spelling, "a wrong guess")).status == 401
    blocked = await apis[1].login(f"{local}@example.com")
    assert (blocked.status, blocked.code) == (429, "too_many_attempts")


async def test_a_burst_of_parallel_guesses_gets_no_more_than_the_limit(apis: list[Api]) -> None:
    user = await apis[0].new_user(login=False)
    # Straight to the instances, so the burst counts on its own address, not the balancer's.
    direct = apis[1:]
    guesses = [direct[i % len(direct)].login(user.email, f"guess number {i}") for i in range(30)]
    statuses = Counter(reply.status for reply in await asyncio.gather(*guesses))
    assert statuses[401] == LIMIT, statuses
    assert statuses[429] == 30 - LIMIT, statuses


async def test_a_burst_from_one_address_gets_no_more_than_the_address_limit(
    http: aiohttp.ClientSession, throttled: Topology
) -> None:
    """Each guess names another account, so only the address's count can stop them."""
    address = {"X-Forwarded-For": client_address()}
    direct = [Api(http, i.url, default_headers=address) for i in throttled.instances]
    guesses = [
        direct[i % len(direct)].login(unique_email(), f"guess number {i}") for i in range(30)
    ]
    statuses = Counter(reply.status for reply in await asyncio.gather(*guesses))
    assert statuses[401] == ADDRESS_LIMIT, statuses
    assert statuses[429] == 30 - ADDRESS_LIMIT, statuses


async def test_unknown_and_real_accounts_throttle_alike(apis: list[Api]) -> None:
    real = await apis[0].new_user(login=False)
    unknown = unique_email()
    answers = {}
    for email in (real.email, unknown):
        for _ in range(LIMIT):
            await apis[1].login(email, "a wrong guess")
        reply = await apis[2].login(email, "a wrong guess")
        answers[email] = (reply.status, reply.code, reply.body)
    assert answers[real.email] == answers[unknown]


async def test_many_users_behind_one_address_log_in_at_once(apis: list[Api]) -> None:
    """Only failures stay counted on an address: a crowd behind one NAT is not throttled,
    even four times the limit at once (those beyond it wait for the others' outcomes)."""
    users = [await apis[1].new_user(login=False) for _ in range(4 * ADDRESS_LIMIT)]
    direct = apis[1:]
    replies = await asyncio.gather(
        *(direct[i % len(direct)].login(user.email) for i, user in enumerate(users))
    )
    assert [reply.status for reply in replies] == [200] * len(users)


async def test_a_crowd_and_a_burst_of_guesses_behind_one_address(apis: list[Api]) -> None:
    """Guesses and right passwords mixed: the guesses use up the limit, and only they do."""
    users = [await apis[1].new_user(login=False) for _ in range(2 * ADDRESS_LIMIT)]
    direct = apis[1:]
    crowd = [direct[i % 2].login(user.email) for i, user in enumerate(users)]
    guesses = [direct[i % 2].login(unique_email(), f"guess {i}") for i in range(20)]
    replies = await asyncio.gather(*crowd, *guesses)
    guessed = Counter(reply.status for reply in replies[len(crowd) :])
    assert guessed[401] == ADDRESS_LIMIT, guessed
    assert guessed[429] == 20 - ADDRESS_LIMIT, guessed
    # A right password that came after the limit was reached waits like anyone else.
    assert {reply.status for reply in replies[: len(crowd)]} <= {200, 429}
