"""Fixtures: scripted backends and an in-process balancer, all on 127.0.0.1 free ports."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest

from balancer.config import Address, BackendSpec, BalancerConfig
from balancer.discovery import Resolver
from balancer.server import Balancer
from tests.balancer.backend_double import ScriptedBackend

StartBalancer = Callable[..., Awaitable[Balancer]]


@pytest.fixture
async def backends() -> AsyncIterator[list[ScriptedBackend]]:
    started = [await ScriptedBackend(f"s{i}").start() for i in range(1, 4)]
    yield started
    for backend in started:
        await backend.kill()


@pytest.fixture
async def start_balancer() -> AsyncIterator[StartBalancer]:
    running: list[Balancer] = []

    async def start(
        urls: list[str], *, resolver: Resolver | None = None, **settings: Any
    ) -> Balancer:
        defaults: dict[str, Any] = {
            "listen": Address("127.0.0.1", 0),
            "admin": Address("127.0.0.1", 0),
            "backends": tuple(BackendSpec(url) for url in urls),
            "health_interval": 0.2,
            "health_timeout": 0.5,
            "shutdown_timeout": 2.0,
            # Most tests are about the API, not its token: tests/balancer/test_admin_guard.py
            # covers the generated one.
            "admin_insecure": True,
        }
        defaults.update(settings)
        config = BalancerConfig(**defaults)
        balancer = Balancer(config) if resolver is None else Balancer(config, resolver=resolver)
        await balancer.start()
        running.append(balancer)
        return balancer

    yield start
    for balancer in running:
        await balancer.shutdown()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


def url(balancer: Balancer, path: str = "/") -> str:
    assert balancer.listen_address is not None
    return f"http://127.0.0.1:{balancer.listen_address.port}{path}"


#: What the admin API wants with every change.
JSON = {"Content-Type": "application/json"}


def admin_url(balancer: Balancer, path: str) -> str:
    assert balancer.admin_address is not None
    return f"http://127.0.0.1:{balancer.admin_address.port}{path}"


async def raw_exchange(balancer: Balancer, data: bytes, *, read_timeout: float = 2.0) -> bytes:
    """Send raw bytes, read until the server closes (or the timeout), return what came back."""
    assert balancer.listen_address is not None
    reader, writer = await asyncio.open_connection("127.0.0.1", balancer.listen_address.port)
    try:
        writer.write(data)
        received = b""
        try:
            async with asyncio.timeout(read_timeout):
                while chunk := await reader.read(65536):
                    received += chunk
        except TimeoutError:
            pass
        return received
    finally:
        writer.close()


async def wait_for(predicate: Callable[[], bool], limit: float = 5.0) -> None:
    """Poll ``predicate`` until it holds; fail after ``limit`` seconds."""
    async with asyncio.timeout(limit):
        while not predicate():  # noqa: ASYNC110 - polling state that has no event to wait on
            await asyncio.sleep(0.02)
