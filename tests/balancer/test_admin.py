"""Admin API: listing, validation, authentication, metrics and the status page."""

from __future__ import annotations

import asyncio

import aiohttp
import orjson

from tests.balancer.backend_double import ScriptedBackend
from tests.balancer.conftest import JSON, StartBalancer, admin_url, url, wait_for


async def test_backends_listing_shape(
    backends: list[ScriptedBackend], start_balancer: StartBalancer, session: aiohttp.ClientSession
) -> None:
    balancer = await start_balancer([backends[0].url])
    await wait_for(lambda: balancer.backends.backends["b1"].last_check is not None)
    async with session.get(url(balancer)) as response:
        await response.read()
    async with session.get(admin_url(balancer, "/backends")) as response:
        assert response.status == 200
        data = orjson.loads(await response.read())
    assert data["algorithm"] == "round-robin"
    (entry,) = data["backends"]
    assert entry["id"] == "b1"
    assert entry["url"] == backends[0].url
    assert entry["state"] == "up"
    assert entry["weight"] == 1
    assert (entry["active"], entry["total"], entry["failures"]) == (0, 1, 0)
    assert entry["idle"] is True
    assert entry["responses"]["2xx"] == 1
    assert entry["last_check"]["ok"] is True
    assert entry["last_check"]["status"] == 200
    assert entry["last_check"]["latency_ms"] > 0


async def test_add_validation_and_errors(
    backends: list[ScriptedBackend], start_balancer: StartBalancer, session: aiohttp.ClientSession
) -> None:
    balancer = await start_balancer([backends[0].url])
    cases = [
        ({"url": "ftp://x"}, 400, "invalid_url"),
        ({"url": backends[0].url}, 409, "backend_exists"),
        ({"url": "http://127.0.0.1:1", "weight": "heavy"}, 400, "invalid_weight"),
        ({"nope": 1}, 400, "invalid_backend"),
    ]
    for body, status, code in cases:
        async with session.post(admin_url(balancer, "/backends"), json=body) as response:
            assert response.status == status
            assert orjson.loads(await response.read())["error"]["code"] == code
    async with session.post(
        admin_url(balancer, "/backends"), data=b"{not json", headers=JSON
    ) as response:
        assert response.status == 400
    for method, path in (("POST", "/backends/b9/drain"), ("DELETE", "/backends/b9")):
        async with session.request(method, admin_url(balancer, path), headers=JSON) as response:
            assert response.status == 404
            assert orjson.loads(await response.read())["error"]["code"] == "backend_not_found"


async def test_added_backend_starts_down_and_joins_after_a_check(
    backends: list[ScriptedBackend], start_balancer: StartBalancer, session: aiohttp.ClientSession
) -> None:
    balancer = await start_balancer([backends[0].url], health_interval=0.1)
    backends[1].healthy = False
    async with session.post(
        admin_url(balancer, "/backends"), json={"url": backends[1].url, "weight": 2}
    ) as response:
        added = orjson.loads(await response.read())
    assert added["state"] == "down"
    assert added["weight"] == 2
    await wait_for(lambda: balancer.backends.backends["b2"].last_check is not None)
    assert balancer.backends.backends["b2"].state == "down"
    backends[1].healthy = True
    await wait_for(lambda: balancer.backends.backends["b2"].state == "up", 2)


async def test_token_is_required_when_configured(
    backends: list[ScriptedBackend], start_balancer: StartBalancer, session: aiohttp.ClientSession
) -> None:
    balancer = await start_balancer([backends[0].url], admin_token="s3cret")
    for path in ("/backends", "/metrics"):
        async with session.get(admin_url(balancer, path)) as response:
            assert response.status == 401
            assert response.headers["WWW-Authenticate"] == "Bearer"
    async with session.post(admin_url(balancer, "/backends/b1/drain")) as response:
        assert response.status == 401
    assert balancer.backends.backends["b1"].state == "up"
    async with session.get(admin_url(balancer, "/")) as response:
        assert response.status == 200
    async with session.get(
        admin_url(balancer, "/backends"), headers={"Authorization": "Bearer wrong"}
    ) as response:
        assert response.status == 401
    async with session.get(
        admin_url(balancer, "/backends"), headers={"Authorization": "Bearer s3cret"}
    ) as response:
        assert response.status == 200


async def test_metrics_expose_counters_with_prefix(
    backends: list[ScriptedBackend], start_balancer: StartBalancer, session: aiohttp.ClientSession
) -> None:
    balancer = await start_balancer([backends[0].url, backends[1].url])
    for _ in range(4):
        async with session.get(url(balancer)) as response:
            await response.read()
    async with session.get(url(balancer, "/status/404")) as response:
        await response.read()
    async with session.get(admin_url(balancer, "/metrics")) as response:
        assert response.status == 200
        text = await response.text()
    b1 = f'backend="b1",url="{backends[0].url}"'
    assert f"authscale_balancer_backend_requests_total{{{b1}}} 3.0" in text
    for code, count in (("2xx", 2), ("4xx", 1)):
        labels = f'backend="b1",code="{code}",url="{backends[0].url}"'
        assert f"authscale_balancer_backend_responses_total{{{labels}}} {count}.0" in text
    assert f"authscale_balancer_backend_up{{{b1}}} 1.0" in text
    assert "authscale_balancer_backend_request_duration_seconds_bucket" in text
    assert "authscale_balancer_requests_in_flight 0.0" in text
    for line in text.splitlines():
        if line and not line.startswith("#"):
            assert line.startswith("authscale_balancer_")


async def test_status_page_is_html_polling_the_api(
    backends: list[ScriptedBackend], start_balancer: StartBalancer, session: aiohttp.ClientSession
) -> None:
    balancer = await start_balancer([backends[0].url])
    async with session.get(admin_url(balancer, "/")) as response:
        assert response.status == 200
        assert response.content_type == "text/html"
        page = await response.text()
    assert 'fetch("backends"' in page
    assert "setInterval(refresh, 1000)" in page


async def test_disable_stops_traffic_and_checks(
    backends: list[ScriptedBackend], start_balancer: StartBalancer, session: aiohttp.ClientSession
) -> None:
    balancer = await start_balancer([backends[0].url, backends[1].url], health_interval=0.05)
    async with session.post(admin_url(balancer, "/backends/b2/disable"), headers=JSON) as response:
        assert orjson.loads(await response.read())["state"] == "disabled"
    checks_before = backends[1].requests["GET /health/ready"]
    for _ in range(4):
        async with session.get(url(balancer)) as response:
            assert await response.text() == "s1"
    await asyncio.sleep(0.3)
    assert backends[1].requests["GET /health/ready"] <= checks_before + 1
    async with session.post(admin_url(balancer, "/backends/b2/enable"), headers=JSON) as response:
        assert orjson.loads(await response.read())["state"] == "up"


async def test_weight_change_at_runtime(
    backends: list[ScriptedBackend], start_balancer: StartBalancer, session: aiohttp.ClientSession
) -> None:
    balancer = await start_balancer([b.url for b in backends[:2]], algorithm="wrr")
    async with session.patch(admin_url(balancer, "/backends/b2"), json={"weight": 0}) as resp:
        assert resp.status == 200
        assert orjson.loads(await resp.read())["weight"] == 0
    for _ in range(4):
        async with session.get(url(balancer)) as response:
            assert await response.text() == "s1"
    async with session.patch(admin_url(balancer, "/backends/b2"), json={"weight": 3}) as resp:
        assert resp.status == 200
    names = []
    for _ in range(8):
        async with session.get(url(balancer)) as response:
            names.append(await response.text())
    assert names.count("s2") == 6
    async with session.patch(admin_url(balancer, "/backends/b2"), json={"weight": -1}) as resp:
        assert resp.status == 400


async def test_changes_from_another_origin_are_refused(
    backends: list[ScriptedBackend], start_balancer: StartBalancer, session: aiohttp.ClientSession
) -> None:
    balancer = await start_balancer([backends[0].url])
    drain = admin_url(balancer, "/backends/b1/drain")
    foreign = {"Origin": "http://evil.example"}
    async with session.post(drain, headers=foreign) as response:
        assert response.status == 403
        assert orjson.loads(await response.read())["error"]["code"] == "cross_origin"
    async with session.post(drain, headers={"Sec-Fetch-Site": "cross-site"}) as response:
        assert response.status == 403
    async with session.get(admin_url(balancer, "/backends"), headers=foreign) as response:
        assert response.status == 200
        assert orjson.loads(await response.read())["backends"][0]["state"] == "up"
    own = admin_url(balancer, "").rstrip("/")
    async with session.post(drain, headers={"Origin": own, **JSON}) as response:
        assert response.status == 200
    async with session.get(admin_url(balancer, "/backends")) as response:
        assert orjson.loads(await response.read())["backends"][0]["state"] == "draining"
