"""DNS discovery with a fake resolver: backends join and leave through the admin path."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Sequence

import aiohttp
import pytest

from balancer.backends import BackendSet
from balancer.config import Address
from balancer.discovery import DnsDiscovery, backend_url
from balancer.selection import RoundRobin
from tests.balancer.backend_double import ScriptedBackend
from tests.balancer.conftest import StartBalancer, url, wait_for


class FakeResolver:
    def __init__(self, *answers: Sequence[str]) -> None:
        self.answer: Sequence[str] | Exception = answers[0] if answers else []
        self.calls = 0

    async def __call__(self, name: str, port: int) -> Sequence[str]:
        self.calls += 1
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


def test_backend_url_brackets_ipv6() -> None:
    assert backend_url("10.0.0.5", 8000) == "http://10.0.0.5:8000"
    assert backend_url("fd00::5", 8000) == "http://[fd00::5]:8000"


@pytest.mark.parametrize(
    ("steps", "expected_urls"),
    [
        pytest.param([["10.0.0.1", "10.0.0.2"]], ["10.0.0.1", "10.0.0.2"], id="initial"),
        pytest.param([["10.0.0.1"], ["10.0.0.1", "10.0.0.3"]], ["10.0.0.1", "10.0.0.3"], id="join"),
        pytest.param([["10.0.0.1", "10.0.0.2"], ["10.0.0.2"]], ["10.0.0.2"], id="leave"),
        pytest.param([["10.0.0.1"], ["10.0.0.2"], ["10.0.0.1"]], ["10.0.0.1"], id="swap-back"),
    ],
)
def test_apply_follows_the_answers(steps: list[list[str]], expected_urls: list[str]) -> None:
    backends = BackendSet(RoundRobin(), rise=2, fall=3)
    discovery = DnsDiscovery(backends, "tasks.auth", 8000, interval=1)
    for answer in steps:
        discovery.apply(answer)
    live = sorted(b.url for b in backends.backends.values() if not b.removing)
    assert live == [f"http://{ip}:8000" for ip in expected_urls]
    assert sorted(discovery.owned) == [f"http://{ip}:8000" for ip in expected_urls]


def test_removed_address_drains_before_it_goes() -> None:
    backends = BackendSet(RoundRobin(), rise=2, fall=3)
    discovery = DnsDiscovery(backends, "tasks.auth", 8000, interval=1)
    discovery.apply(["10.0.0.1", "10.0.0.2"])
    leaving = backends.find_url("http://10.0.0.2:8000")
    assert leaving is not None
    leaving.active = 1
    assert discovery.apply(["10.0.0.1"]) == ([], ["http://10.0.0.2:8000"])
    assert leaving.state == "draining"
    assert leaving.id in backends.backends
    leaving.active = 0
    backends.check_idle(leaving)
    assert leaving.id not in backends.backends


def test_static_backend_is_not_taken_over() -> None:
    backends = BackendSet(RoundRobin(), rise=2, fall=3)
    static = backends.add("http://10.0.0.1:8000")
    discovery = DnsDiscovery(backends, "tasks.auth", 8000, interval=1)
    discovery.apply(["10.0.0.1", "10.0.0.2"])
    discovery.apply(["10.0.0.2"])
    assert static.id in backends.backends
    assert static.state == "up"


async def test_resolution_failure_or_empty_answer_keeps_backends() -> None:
    backends = BackendSet(RoundRobin(), rise=2, fall=3)
    resolver = FakeResolver(["10.0.0.1"])
    discovery = DnsDiscovery(backends, "tasks.auth", 8000, interval=1, resolver=resolver)
    await discovery.refresh()
    resolver.answer = socket.gaierror(-2, "Name or service not known")
    await discovery.refresh()
    resolver.answer = []
    await discovery.refresh()
    assert [b.url for b in backends.backends.values()] == ["http://10.0.0.1:8000"]
    assert resolver.calls == 3


async def test_discovered_backends_serve_traffic_and_leave(
    start_balancer: StartBalancer, session: aiohttp.ClientSession
) -> None:
    first = await ScriptedBackend("d1").start()
    port = first.port
    second = ScriptedBackend("d2")
    try:
        await second.start(port, host="127.0.0.2")
    except OSError:
        await first.kill()
        pytest.skip("cannot bind 127.0.0.2 here")
    resolver = FakeResolver(["127.0.0.1"])
    try:
        balancer = await start_balancer(
            [],
            backend_dns=(Address("auth.internal", port),),
            dns_interval=0.1,
            health_interval=0.05,
            resolver=resolver,
        )
        await wait_for(lambda: len(balancer.backends.available) == 1)
        resolver.answer = ["127.0.0.1", "127.0.0.2"]
        await wait_for(lambda: len(balancer.backends.available) == 2, 3)
        names = set()
        for _ in range(4):
            async with session.get(url(balancer)) as response:
                names.add(await response.text())
        assert names == {"d1", "d2"}
        resolver.answer = ["127.0.0.2"]
        await wait_for(lambda: len(balancer.backends.backends) == 1, 3)
        for _ in range(3):
            async with session.get(url(balancer)) as response:
                assert await response.text() == "d2"
    finally:
        await first.kill()
        await second.kill()
    await asyncio.sleep(0)
