"""The admin API against a browser on the same machine: DNS rebinding (Host allow-list),
cross-site writes (JSON only), framing (CSP), and the token generated when none is set."""

from __future__ import annotations

import aiohttp
import orjson
import pytest

from balancer.admin import host_allowed
from tests.balancer.backend_double import ScriptedBackend
from tests.balancer.conftest import JSON, StartBalancer, admin_url


@pytest.mark.parametrize(
    ("host", "bound", "names", "allowed"),
    [
        ("127.0.0.1:8404", "127.0.0.1", (), True),
        ("localhost:8404", "127.0.0.1", (), True),
        ("LocalHost.:8404", "127.0.0.1", (), True),
        ("evil.example:8404", "127.0.0.1", (), False),
        ("evil.example", "127.0.0.1", (), False),
        ("127.0.0.2:8404", "127.0.0.1", (), False),
        ("[::1]:8404", "::1", (), True),
        ("admin.internal:8404", "127.0.0.1", ("admin.internal",), True),
        ("10.0.0.7:8404", "0.0.0.0", (), True),
        ("[fd00::7]:8404", "::", (), True),
        ("balancer:8404", "0.0.0.0", (), False),
        ("balancer:8404", "0.0.0.0", ("balancer",), True),
        ("", "127.0.0.1", (), False),
    ],
)
def test_host_allow_list(host: str, bound: str, names: tuple[str, ...], allowed: bool) -> None:
    assert host_allowed(host, bound=bound, names=frozenset(names)) is allowed


async def test_a_rebound_name_can_neither_read_nor_change(
    backends: list[ScriptedBackend], start_balancer: StartBalancer, session: aiohttp.ClientSession
) -> None:
    balancer = await start_balancer([backends[0].url])
    assert balancer.admin_address is not None
    evil = f"evil.example:{balancer.admin_address.port}"
    # What a page on http://evil.example:PORT sends once its name resolves to 127.0.0.1.
    rebound = {"Host": evil, "Origin": f"http://{evil}", **JSON}
    async with session.post(
        admin_url(balancer, "/backends"), json={"url": backends[1].url}, headers=rebound
    ) as response:
        assert response.status == 421
        assert orjson.loads(await response.read())["error"]["code"] == "unknown_host"
    async with session.get(admin_url(balancer, "/backends"), headers={"Host": evil}) as response:
        assert response.status == 421
    assert len(balancer.backends.backends) == 1
    local = {"Host": f"localhost:{balancer.admin_address.port}"}
    async with session.get(admin_url(balancer, "/backends"), headers=local) as response:
        assert response.status == 200


async def test_configured_names_are_answered(
    backends: list[ScriptedBackend], start_balancer: StartBalancer, session: aiohttp.ClientSession
) -> None:
    balancer = await start_balancer([backends[0].url], admin_hosts=("admin.internal",))
    named = {"Host": "admin.internal"}
    async with session.get(admin_url(balancer, "/backends"), headers=named) as response:
        assert response.status == 200


async def test_changes_must_be_json(
    backends: list[ScriptedBackend], start_balancer: StartBalancer, session: aiohttp.ClientSession
) -> None:
    balancer = await start_balancer([backends[0].url])
    body = orjson.dumps({"url": backends[1].url})
    # text/plain is what a cross-site form or fetch may send without a CORS preflight.
    for content_type in ("text/plain", "application/x-www-form-urlencoded", None):
        headers = {"Content-Type": content_type} if content_type else {}
        async with session.post(
            admin_url(balancer, "/backends"), data=body, headers=headers
        ) as response:
            assert response.status == 415, content_type
            assert orjson.loads(await response.read())["error"]["code"] == "unsupported_media_type"
    assert len(balancer.backends.backends) == 1
    async with session.post(admin_url(balancer, "/backends"), data=body, headers=JSON) as response:
        assert response.status == 201


async def test_changes_without_a_body_need_no_content_type(
    backends: list[ScriptedBackend], start_balancer: StartBalancer, session: aiohttp.ClientSession
) -> None:
    balancer = await start_balancer([backends[0].url, backends[1].url])
    async with session.post(admin_url(balancer, "/backends/b1/drain")) as response:
        assert response.status == 200, await response.text()
    assert balancer.backends.backends["b1"].state == "draining"
    async with session.post(admin_url(balancer, "/backends/b1/enable")) as response:
        assert response.status == 200
    assert balancer.backends.backends["b1"].state == "up"
    async with session.delete(admin_url(balancer, "/backends/b2")) as response:
        assert response.status == 202
    # A body, even an empty JSON object, must still say it is JSON.
    text = {"Content-Type": "text/plain"}
    async with session.post(
        admin_url(balancer, "/backends/b1/drain"), data=b"{}", headers=text
    ) as response:
        assert response.status == 415
    assert balancer.backends.backends["b1"].state == "up"


@pytest.mark.parametrize(
    ("algorithm", "noted"),
    [("round-robin", True), ("least-connections", False), ("weighted-round-robin", False)],
)
async def test_a_weight_the_algorithm_ignores_is_noted(
    algorithm: str,
    noted: bool,
    backends: list[ScriptedBackend],
    start_balancer: StartBalancer,
    session: aiohttp.ClientSession,
) -> None:
    balancer = await start_balancer([backends[0].url], algorithm=algorithm)
    async with session.patch(admin_url(balancer, "/backends/b1"), json={"weight": 3}) as response:
        assert response.status == 200
        answer = orjson.loads(await response.read())
    assert answer["weight"] == 3
    if noted:
        assert answer["note"].startswith("the round-robin algorithm ignores weights")
    else:
        assert "note" not in answer


async def test_no_admin_response_may_be_framed(
    backends: list[ScriptedBackend], start_balancer: StartBalancer, session: aiohttp.ClientSession
) -> None:
    balancer = await start_balancer([backends[0].url])
    for path in ("/", "/backends", "/metrics", "/nowhere"):
        async with session.get(admin_url(balancer, path)) as response:
            assert response.headers["Content-Security-Policy"] == "frame-ancestors 'none'", path
            assert response.headers["X-Frame-Options"] == "DENY"


async def test_without_a_configured_token_one_is_generated(
    backends: list[ScriptedBackend], start_balancer: StartBalancer, session: aiohttp.ClientSession
) -> None:
    balancer = await start_balancer([backends[0].url], admin_insecure=False)
    token = balancer.admin_token
    assert token is not None
    assert len(token) >= 32
    async with session.get(admin_url(balancer, "/backends")) as response:
        assert response.status == 401
    bearer = {"Authorization": f"Bearer {token}"}
    async with session.get(admin_url(balancer, "/backends"), headers=bearer) as response:
        assert response.status == 200
    other = await start_balancer([backends[0].url], admin_insecure=False)
    assert other.admin_token not in (None, token)
