"""The balancer's Server-Timing entries: queue, connect and backend first byte, after the
backend's own entries, on proxied responses and on the balancer's own errors."""

from __future__ import annotations

import asyncio

import aiohttp

from tests.balancer.backend_double import ScriptedBackend
from tests.balancer.conftest import StartBalancer, url


def entries(response: aiohttp.ClientResponse) -> list[tuple[str, float | None]]:
    """Every Server-Timing entry in order, as (name, dur in ms)."""
    found: list[tuple[str, float | None]] = []
    for field in response.headers.getall("Server-Timing", []):
        for entry in field.split(","):
            name, *params = (part.strip() for part in entry.split(";"))
            durations = [float(p[4:]) for p in params if p.startswith("dur=")]
            found.append((name, durations[0] if durations else None))
    return found


def durations(response: aiohttp.ClientResponse) -> dict[str, float]:
    return {name: dur for name, dur in entries(response) if dur is not None}


async def test_entries_follow_the_backends_own(
    backends: list[ScriptedBackend], start_balancer: StartBalancer
) -> None:
    balancer = await start_balancer([backends[0].url])
    # A fresh client session: its first request makes the balancer open a backend connection.
    async with aiohttp.ClientSession() as session:
        async with session.get(url(balancer, "/timed")) as response:
            first = entries(response)
        async with session.get(url(balancer, "/timed")) as response:
            second = durations(response)
    assert [name for name, _ in first] == ["app", "db", "lb-queue", "lb-connect", "lb-ttfb"]
    assert first[:2] == [("app", 1.5), ("db", 0.25)]
    first_durations = dict(first)
    assert first_durations["lb-connect"] is not None
    assert first_durations["lb-connect"] > 0
    # The second request reused the pooled connection.
    assert second["lb-connect"] == 0
    assert 0 <= second["lb-queue"] < 50
    assert 0 < second["lb-ttfb"] < 500


async def test_ttfb_is_the_backends_time_and_queue_the_wait_for_a_slot(
    backends: list[ScriptedBackend], start_balancer: StartBalancer, session: aiohttp.ClientSession
) -> None:
    backends[0].delay = 0.3
    balancer = await start_balancer([backends[0].url], maxconn=1)

    async def slow() -> dict[str, float]:
        async with session.get(url(balancer, "/slow")) as response:
            assert response.status == 200
            return durations(response)

    first, second = await asyncio.gather(slow(), slow())
    for timing in (first, second):
        assert 290 <= timing["lb-ttfb"] < 1500
    # One waited for the other's slot, about the other's whole response time.
    waited = max(first["lb-queue"], second["lb-queue"])
    assert 250 <= waited < 1500
    assert min(first["lb-queue"], second["lb-queue"]) < 50


async def test_the_balancers_own_errors_say_how_long_they_queued(
    backends: list[ScriptedBackend], start_balancer: StartBalancer, session: aiohttp.ClientSession
) -> None:
    backends[0].delay = 1.0
    balancer = await start_balancer([backends[0].url], maxconn=1, queue_timeout=0.3)
    held = asyncio.create_task(session.get(url(balancer, "/slow")))
    await asyncio.sleep(0.1)
    async with session.get(url(balancer, "/")) as response:
        assert response.status == 503
        timing = durations(response)
    (await held).release()
    assert list(timing) == ["lb-queue"]
    assert 250 <= timing["lb-queue"] < 1500
