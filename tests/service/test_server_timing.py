"""Every response of a real instance carries Server-Timing with the phases that ran."""

from __future__ import annotations

import time
from collections.abc import Callable

import aiohttp
import pytest

from tests.service.conftest import Api, Reply, ServiceProcess, bearer, unique_email

pytestmark = pytest.mark.integration

ROUNDING_MS = 0.01  # each entry is rounded to two decimals


def phases(reply: Reply) -> dict[str, float]:
    """name -> ms, in header order (a fixed order, not the order the phases ran in)."""
    header = reply.headers["Server-Timing"]
    found: dict[str, float] = {}
    for entry in header.split(", "):
        name, _, duration = entry.partition(";dur=")
        assert name not in found, header
        found[name] = float(duration)
    assert list(found)[-1] == "app", header
    return found


def assert_within_app(found: dict[str, float]) -> None:
    inner = sum(ms for name, ms in found.items() if name != "app")
    assert inner <= found["app"] + ROUNDING_MS * len(found), found


async def test_the_auth_flow_reports_each_step_s_phases(api: Api) -> None:
    email = unique_email()
    started = time.perf_counter()
    signup = await api.signup(email)
    client_ms = (time.perf_counter() - started) * 1000
    assert signup.status == 201
    found = phases(signup)
    assert list(found) == ["hash-wait", "hash", "db", "redis", "app"]  # redis: the signup limit
    assert found["hash"] > 0.2  # bcrypt at cost 4 takes about a millisecond
    assert found["app"] <= client_ms
    assert_within_app(found)

    login = await api.login(email)
    assert login.status == 200
    found = phases(login)
    assert list(found) == ["hash-wait", "hash", "db", "redis", "jwt", "app"]
    assert_within_app(found)
    tokens = login.json()

    refresh = await api.refresh(tokens["refresh_token"])
    assert refresh.status == 200
    assert list(phases(refresh)) == ["redis", "jwt", "app"]
    assert_within_app(phases(refresh))
    access = refresh.json()["access_token"]

    me = await api.me(access)
    assert list(phases(me)) == ["redis", "jwt", "app"]

    logout = await api.logout(access)
    assert logout.status == 204
    assert list(phases(logout)) == ["redis", "jwt", "app"]


async def test_errors_and_other_routes_carry_it_too(api: Api) -> None:
    weak = await api.signup(unique_email(), "short")
    assert (weak.status, weak.code) == (422, "weak_password")
    assert list(phases(weak)) == ["app"]

    missing = await api.call("GET", "/no/such/route")
    assert missing.status == 404
    assert list(phases(missing)) == ["app"]

    not_json = await api.call("POST", "/auth/login", data=b"{", headers={"Content-Type": "x/y"})
    assert not_json.status == 415
    assert list(phases(not_json)) == ["app"]

    too_large = await api.call(
        "POST", "/auth/login", data=b"x" * 70_000, headers={"Content-Type": "application/json"}
    )
    assert too_large.status == 413
    assert list(phases(too_large)) == ["app"]

    forged = await api.call("GET", "/auth/me", headers=bearer("not.a.token"))
    assert (forged.status, forged.code) == (401, "invalid_token")
    assert list(phases(forged)) == ["jwt", "app"]

    unknown = await api.login(unique_email())
    assert (unknown.status, unknown.code) == (401, "invalid_credentials")
    # The same phases as a wrong password: an unknown account is not told apart by them.
    assert list(phases(unknown)) == ["hash-wait", "hash", "db", "redis", "app"]

    live = await api.call("GET", "/health/live")
    assert list(phases(live)) == ["app"]

    ready = await api.call("GET", "/health/ready")
    assert ready.status == 200
    assert list(phases(ready)) == ["db", "redis", "app"]


async def test_a_keep_alive_request_does_not_inherit_the_previous_one_s_phases(
    api: Api,
) -> None:
    user = await api.new_user()
    for _ in range(3):
        refresh = await api.refresh(user.refresh)
        assert refresh.status == 200
        assert list(phases(refresh)) == ["redis", "jwt", "app"]
        user.tokens = refresh.json()
        live = await api.call("GET", "/health/live")
        assert list(phases(live)) == ["app"]


async def test_with_server_timing_off_no_response_carries_it(
    http: aiohttp.ClientSession, spawn: Callable[..., ServiceProcess]
) -> None:
    service = spawn("timing-off", AUTH_INSTANCE_ID="timing-off", AUTH_SERVER_TIMING="off")
    api = Api(http, service.url)
    user = await api.new_user()
    refresh = await api.refresh(user.refresh)
    assert refresh.status == 200
    missing = await api.call("GET", "/no/such/route")
    assert missing.status == 404
    for reply in (refresh, missing):
        assert "Server-Timing" not in reply.headers
    # Nor are the phases recorded: the histogram has no sample.
    async with http.get(f"{service.metrics_url}/metrics") as response:
        text = await response.text()
    assert "authscale_phase_duration_seconds" in text
    assert "authscale_phase_duration_seconds_count{" not in text
