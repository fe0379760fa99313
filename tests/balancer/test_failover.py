"""Failures and operations under load: kills, no replay of POSTs, drain, add/remove, limits."""

from __future__ import annotations

import asyncio
from collections import Counter

import aiohttp
import orjson

from tests.balancer.backend_double import ScriptedBackend
from tests.balancer.conftest import JSON, StartBalancer, admin_url, url, wait_for
from tests.balancer.test_pool import QuietTransport, idle_connection


async def test_killed_backend_is_ejected_and_no_get_fails(
    backends: list[ScriptedBackend], start_balancer: StartBalancer, session: aiohttp.ClientSession
) -> None:
    balancer = await start_balancer([b.url for b in backends], eject_after=2)
    victim = backends[1]
    statuses: Counter[int] = Counter()
    stop = asyncio.Event()

    async def worker() -> None:
        while not stop.is_set():
            async with session.get(url(balancer, "/slow")) as response:
                statuses[response.status] += 1
                await response.read()

    for backend in backends:
        backend.delay = 0.02
    workers = [asyncio.create_task(worker()) for _ in range(6)]
    await asyncio.sleep(0.4)
    served_before = victim.served
    await victim.kill()
    await asyncio.sleep(0.6)
    stop.set()
    await asyncio.gather(*workers)
    assert served_before > 0
    assert set(statuses) == {200}
    assert statuses[200] > 20
    state = balancer.backends.backends["b2"]
    assert state.state == "down"
    assert state.failures >= 1


async def test_killed_backend_fails_only_posts_it_had_received(
    backends: list[ScriptedBackend], start_balancer: StartBalancer, session: aiohttp.ClientSession
) -> None:
    balancer = await start_balancer([b.url for b in backends], eject_after=2)
    victim = backends[0]
    statuses: Counter[int] = Counter()
    stop = asyncio.Event()

    async def worker() -> None:
        while not stop.is_set():
            async with session.post(url(balancer, "/slow"), data=b"x") as response:
                statuses[response.status] += 1
                await response.read()

    for backend in backends:
        backend.delay = 0.05
    workers = [asyncio.create_task(worker()) for _ in range(6)]
    await asyncio.sleep(0.4)
    await victim.kill()
    await asyncio.sleep(0.5)
    stop.set()
    await asyncio.gather(*workers)
    lost = victim.requests["POST /slow"] - victim.answered["POST /slow"]
    assert set(statuses) <= {200, 502}
    # Only the POSTs in flight on the victim fail: those it had received and not answered,
    # and at most one more per worker written onto a pooled connection as it died (the
    # balancer cannot know whether those arrived, so it must not replay them either).
    assert statuses[502] <= lost + len(workers)
    assert statuses[200] > 10
    # No POST was replayed: no backend received more requests than were answered, and every
    # one answered 200 was received once.
    total_received = sum(b.requests["POST /slow"] for b in backends)
    assert statuses[200] <= total_received <= sum(statuses.values())


async def test_post_that_reached_a_dying_backend_is_not_replayed(
    backends: list[ScriptedBackend], start_balancer: StartBalancer, session: aiohttp.ClientSession
) -> None:
    balancer = await start_balancer([b.url for b in backends[:2]], eject_after=100)
    async with session.post(url(balancer, "/reset"), data=b"{}") as response:
        assert response.status == 502
        assert orjson.loads(await response.read())["error"]["code"] == "upstream_reset"
    posts = [b.requests["POST /reset"] for b in backends[:2]]
    assert sorted(posts) == [0, 1]
    # An idempotent request is retried once, on the other backend, and no more.
    async with session.get(url(balancer, "/reset")) as response:
        assert response.status == 502
    assert [b.requests["GET /reset"] for b in backends[:2]] == [1, 1]


async def test_connect_failures_go_to_the_next_backend_for_any_method(
    backends: list[ScriptedBackend], start_balancer: StartBalancer, session: aiohttp.ClientSession
) -> None:
    dead = await ScriptedBackend("dead").start()
    await dead.kill()
    balancer = await start_balancer([dead.url, backends[0].url], health_interval=0, eject_after=3)
    for _ in range(6):
        async with session.post(url(balancer, "/echo"), data=b"once") as response:
            assert response.status == 200
            assert await response.read() == b"once"
    assert backends[0].requests["POST /echo"] == 6
    assert balancer.backends.backends["b1"].state == "down"
    assert balancer.ctx is not None
    assert balancer.ctx.retries_total >= 3


async def test_5xx_ejects_and_active_checks_bring_back(
    backends: list[ScriptedBackend], start_balancer: StartBalancer, session: aiohttp.ClientSession
) -> None:
    balancer = await start_balancer(
        [backends[0].url, backends[1].url], eject_after=3, health_interval=0.1, rise=2
    )
    sick = balancer.backends.backends["b1"]
    seen: list[str] = []
    balancer.backends.subscribe(
        lambda event, backend: seen.append(backend.state) if backend is sick else None
    )
    for _ in range(6):
        async with session.get(url(balancer, "/status/500")) as response:
            assert response.status == 500
            await response.read()
    assert sick.failures == 3
    await wait_for(lambda: sick.state == "up", 3)
    assert seen == ["down", "up"]


async def test_drain_lets_in_flight_requests_finish(
    backends: list[ScriptedBackend], start_balancer: StartBalancer, session: aiohttp.ClientSession
) -> None:
    balancer = await start_balancer([b.url for b in backends])
    backends[0].delay = 0.5

    async def slow() -> tuple[int, str]:
        async with session.get(url(balancer, "/slow")) as response:
            return response.status, await response.text()

    in_flight = [asyncio.create_task(slow()) for _ in range(6)]
    await wait_for(lambda: backends[0].in_flight == 2)
    async with session.post(admin_url(balancer, "/backends/b1/drain"), headers=JSON) as response:
        assert response.status == 200
        drained = orjson.loads(await response.read())
    assert drained["state"] == "draining"
    assert drained["idle"] is False
    for _ in range(6):
        async with session.get(url(balancer)) as response:
            assert await response.text() in ("s2", "s3")
    results = await asyncio.gather(*in_flight)
    assert all(status == 200 for status, _ in results)
    assert sum(1 for _, name in results if name == "s1") == 2
    async with session.get(admin_url(balancer, "/backends")) as response:
        listing = orjson.loads(await response.read())
    first = listing["backends"][0]
    assert (first["id"], first["state"], first["idle"], first["active"]) == (
        "b1",
        "draining",
        True,
        0,
    )
    async with session.post(admin_url(balancer, "/backends/b1/enable"), headers=JSON) as response:
        assert orjson.loads(await response.read())["state"] == "up"


async def test_admin_add_and_remove_under_load(
    backends: list[ScriptedBackend], start_balancer: StartBalancer, session: aiohttp.ClientSession
) -> None:
    balancer = await start_balancer([b.url for b in backends[:2]], health_interval=0.05)
    extra = backends[2]
    statuses: Counter[int] = Counter()
    names: Counter[str] = Counter()
    stop = asyncio.Event()

    async def worker() -> None:
        while not stop.is_set():
            async with session.get(url(balancer, "/slow")) as response:
                statuses[response.status] += 1
                names[await response.text()] += 1

    for backend in backends:
        backend.delay = 0.01
    workers = [asyncio.create_task(worker()) for _ in range(4)]
    await asyncio.sleep(0.2)
    async with session.post(admin_url(balancer, "/backends"), json={"url": extra.url}) as resp:
        assert resp.status == 201
        added = orjson.loads(await resp.read())
    await wait_for(lambda: extra.served > 5)
    async with session.delete(admin_url(balancer, "/backends/b1"), headers=JSON) as resp:
        assert resp.status == 202
    await wait_for(lambda: "b1" not in balancer.backends.backends)
    served_after_removal = backends[0].served
    await asyncio.sleep(0.2)
    stop.set()
    await asyncio.gather(*workers)
    assert set(statuses) == {200}
    assert added["id"] == "b3"
    assert backends[0].served == served_after_removal
    assert names["s3"] > 5


async def test_maxconn_queue_and_queue_timeout(
    backends: list[ScriptedBackend], start_balancer: StartBalancer, session: aiohttp.ClientSession
) -> None:
    backends[0].delay = 0.6
    balancer = await start_balancer([backends[0].url], maxconn=1, maxqueue=1, queue_timeout=0.3)

    async def slow() -> tuple[int, str | None, str]:
        async with session.get(url(balancer, "/slow")) as response:
            body = await response.read()
            code = orjson.loads(body)["error"]["code"] if response.status != 200 else ""
            return response.status, response.headers.get("Retry-After"), code

    first = asyncio.create_task(slow())
    await wait_for(lambda: backends[0].in_flight == 1)
    queued = asyncio.create_task(slow())
    await asyncio.sleep(0.05)
    rejected = await slow()
    assert rejected == (503, "1", "backend_queue_full")
    assert await queued == (503, "1", "queue_timeout")
    assert await first == (200, None, "")
    assert backends[0].served == 1


async def test_queued_request_gets_the_freed_slot(
    backends: list[ScriptedBackend], start_balancer: StartBalancer, session: aiohttp.ClientSession
) -> None:
    backends[0].delay = 0.2
    balancer = await start_balancer([backends[0].url], maxconn=1, queue_timeout=2)

    async def slow() -> int:
        async with session.get(url(balancer, "/slow")) as response:
            await response.read()
            return response.status

    assert await asyncio.gather(*(slow() for _ in range(4))) == [200] * 4
    assert backends[0].served == 4
    state = balancer.backends.backends["b1"]
    assert state.active == 0
    assert balancer.pool.of(state).open == 1


async def test_graceful_shutdown_finishes_in_flight(
    backends: list[ScriptedBackend], start_balancer: StartBalancer, session: aiohttp.ClientSession
) -> None:
    backends[0].delay = 0.4
    balancer = await start_balancer([backends[0].url])

    async def slow() -> int:
        async with session.get(url(balancer, "/slow")) as response:
            await response.read()
            return response.status

    in_flight = asyncio.create_task(slow())
    await wait_for(lambda: backends[0].in_flight == 1)
    shutdown = asyncio.create_task(balancer.shutdown())
    await asyncio.sleep(0.05)
    assert balancer.listen_address is not None
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", balancer.listen_address.port)
        writer.close()
        refused = False
    except ConnectionRefusedError:
        refused = True
    assert await in_flight == 200
    await shutdown
    assert refused


class DeadTransport(QuietTransport):
    """A pooled connection whose peer is already gone: the first write fails."""

    def __init__(self) -> None:
        super().__init__()
        self.written = b""

    def write(self, data: bytes) -> None:
        self.written += data
        self.closed = True


async def test_post_on_a_dead_pooled_connection_is_sent_on_a_fresh_one(
    backends: list[ScriptedBackend], start_balancer: StartBalancer, session: aiohttp.ClientSession
) -> None:
    balancer = await start_balancer([backends[0].url])
    backend = balancer.backends.backends["b1"]
    dead = DeadTransport()
    stale = idle_connection(balancer.pool, dead)
    home = stale.home
    async with session.post(url(balancer, "/echo"), data=b"exactly once") as response:
        assert response.status == 200
        assert await response.read() == b"exactly once"
    assert dead.written.startswith(b"POST /echo HTTP/1.1\r\n")
    assert backends[0].requests["POST /echo"] == 1
    assert stale not in home.idle
    assert backend.total == 1


async def test_idempotent_reset_with_a_single_backend_is_tried_once_more_on_it(
    backends: list[ScriptedBackend], start_balancer: StartBalancer, session: aiohttp.ClientSession
) -> None:
    balancer = await start_balancer([backends[0].url], eject_after=100)
    async with session.get(url(balancer, "/reset")) as response:
        assert response.status == 502
        assert orjson.loads(await response.read())["error"]["code"] == "upstream_reset"
    assert backends[0].requests["GET /reset"] == 2
    async with session.post(url(balancer, "/reset")) as response:
        assert response.status == 502
    assert backends[0].requests["POST /reset"] == 1
