"""Health state transitions (table-driven) and how results reach the backend set."""

from __future__ import annotations

import asyncio
import random

import pytest

from balancer.backends import BackendSet
from balancer.checks import HealthMonitor, check_http, next_delay, restore_ejected
from balancer.health import CheckResult, HealthState
from balancer.selection import RoundRobin


@pytest.mark.parametrize(
    ("start_up", "checks", "expected_changes", "end_up"),
    [
        pytest.param(True, "ffx", "--d", False, id="fall-3-takes-down"),
        pytest.param(True, "ffoff", "-----", True, id="success-resets-fall-count"),
        pytest.param(False, "o", "-", False, id="one-success-is-not-enough"),
        pytest.param(False, "oo", "-u", True, id="rise-2-brings-up"),
        pytest.param(False, "ofoo", "---u", True, id="failure-resets-rise-count"),
        pytest.param(True, "fffooo", "--d-u-", True, id="down-then-up"),
        pytest.param(True, "ooo", "---", True, id="up-stays-up"),
        pytest.param(False, "fff", "---", False, id="down-stays-down"),
    ],
)
def test_rise_fall(start_up: bool, checks: str, expected_changes: str, end_up: bool) -> None:
    state = HealthState(rise=2, fall=3, up=start_up)
    changes = ""
    for check in checks:
        change = state.record(check == "o")
        changes += {None: "-", "up": "u", "down": "d"}[change]
    assert changes == expected_changes
    assert state.up is end_up


def test_passive_ejection_needs_rise_checks_to_return() -> None:
    state = HealthState(rise=2, fall=3)
    assert state.eject() == "down"
    assert state.eject() is None
    assert state.record(True) is None
    assert state.record(True) == "up"


def test_new_backend_is_one_check_away_from_up() -> None:
    state = HealthState(rise=2, fall=3, up=False, pending_successes=1)
    assert state.record(True) == "up"


def test_restore_after_ejection_time() -> None:
    state = HealthState(rise=2, fall=3)
    state.eject()
    assert state.restore() == "up"
    assert state.up


def test_jittered_delay_stays_within_bounds() -> None:
    rng = random.Random(1)
    delays = [next_delay(2.0, 0.1, rng) for _ in range(200)]
    assert all(1.8 <= d <= 2.2 for d in delays)
    assert len({round(d, 3) for d in delays}) > 100
    assert next_delay(2.0, 0.0, rng) == 2.0


def test_monitor_apply_changes_availability_and_logs(caplog: pytest.LogCaptureFixture) -> None:
    backends = BackendSet(RoundRobin(), rise=2, fall=3)
    backend = backends.add("http://127.0.0.1:9", up=True)
    monitor = HealthMonitor(backends, path="/health/ready", interval=2, timeout=1, jitter=0.1)
    failed = CheckResult(False, 503, 0.001, "status 503", 0.0)
    for _ in range(3):
        monitor.apply(backend, failed)
    assert backend.state == "down"
    assert backends.available == []
    assert backend.last_check is failed
    assert any("DOWN" in r.getMessage() for r in caplog.records)
    ok = CheckResult(True, 200, 0.001, None, 0.0)
    monitor.apply(backend, ok)
    monitor.apply(backend, ok)
    assert backend.state == "up"
    assert backends.available == [backend]


async def test_check_http_against_real_sockets() -> None:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request = await reader.readuntil(b"\r\n\r\n")
        status = b"200 OK" if request.startswith(b"GET /ok ") else b"503 No"
        writer.write(b"HTTP/1.1 " + status + b"\r\ncontent-length: 0\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        good = await check_http("127.0.0.1", port, "/ok", 1.0)
        bad = await check_http("127.0.0.1", port, "/nope", 1.0)
    finally:
        server.close()
        await server.wait_closed()
    refused = await check_http("127.0.0.1", port, "/ok", 1.0)
    assert good.ok
    assert good.status == 200
    assert good.latency > 0
    assert not bad.ok
    assert bad.status == 503
    assert bad.error == "status 503"
    assert not refused.ok
    assert refused.status is None
    assert refused.error


async def test_check_http_times_out_on_silent_server() -> None:
    done = asyncio.Event()

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()
        writer.close()
        await writer.wait_closed()
        done.set()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        result = await check_http("127.0.0.1", port, "/", 0.2)
        await asyncio.wait_for(done.wait(), 2)
    finally:
        server.close()
        await server.wait_closed()
    assert not result.ok
    assert result.error == "timeout"


def test_ejected_backend_returns_after_eject_time_without_active_checks() -> None:
    backends = BackendSet(RoundRobin(), rise=2, fall=3)
    backend = backends.add("http://127.0.0.1:9")
    backend.health.eject()
    backend.ejected_until = 100.0
    backends.refresh()
    restore_ejected(backends, 99.0)
    assert backends.available == []
    restore_ejected(backends, 100.0)
    assert backends.available == [backend]
    assert backend.ejected_until == 0.0
