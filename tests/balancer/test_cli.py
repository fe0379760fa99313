"""The real command: start, serve, JSON logs, SIGTERM → graceful exit."""

from __future__ import annotations

import asyncio
import signal
import socket
import sys

import aiohttp
import orjson
import pytest

from balancer.__main__ import main
from balancer.config import Address, BackendSpec, BalancerConfig
from balancer.server import Balancer
from lab.harness.procs import free_port
from tests.balancer.backend_double import ScriptedBackend


async def test_command_serves_logs_json_and_stops_on_sigterm(
    backends: list[ScriptedBackend], session: aiohttp.ClientSession
) -> None:
    port, admin = free_port(), free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "balancer",
        "--listen", f"127.0.0.1:{port}",
        "--admin", f"127.0.0.1:{admin}",
        "--backend", backends[0].url,
        "--log-format", "json",
        "--access-log",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert process.stderr is not None
    assert process.stdout is not None
    try:
        # No token configured: one is generated and printed, with the status page's link.
        async with asyncio.timeout(15):
            token_line = (await process.stdout.readline()).decode()
            link_line = (await process.stdout.readline()).decode()
        assert token_line.startswith("admin token: ")
        token = token_line.split()[2]
        assert len(token) >= 32
        assert link_line.strip() == f"status page: http://127.0.0.1:{admin}/#token={token}"
        lines = []
        async with asyncio.timeout(15):
            while True:
                line = orjson.loads(await process.stderr.readline())
                lines.append(line)
                if line.get("event") == "listening":
                    break
        async with session.get(f"http://127.0.0.1:{admin}/backends") as response:
            assert response.status == 401
        bearer = {"Authorization": f"Bearer {token}"}
        async with session.get(f"http://127.0.0.1:{admin}/backends", headers=bearer) as response:
            assert response.status == 200
        async with session.get(f"http://127.0.0.1:{port}/", headers={"X-Request-ID": "r-1"}) as r:
            assert await r.text() == "s1"
        access = orjson.loads(await asyncio.wait_for(process.stderr.readline(), 5))
        process.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(process.wait(), 10)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert code == 0
    assert lines[-1]["listen"] == f"127.0.0.1:{port}"
    assert {"time", "level", "logger", "message"} <= lines[-1].keys()
    assert access["event"] == "request"
    assert access["request_id"] == "r-1"
    assert (access["method"], access["path"], access["status"]) == ("GET", "/", 200)
    assert access["backend"] == "b1"
    assert access["duration_ms"] >= 0


def test_config_error_exits_2(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("BALANCER_ADMIN_TOKEN", raising=False)
    monkeypatch.delenv("BALANCER_CONFIG", raising=False)
    assert main(["--admin", "0.0.0.0:9999"]) == 2
    assert "BALANCER_ADMIN_TOKEN" in capsys.readouterr().err


async def test_start_on_a_busy_port_fails_cleanly(backends: list[ScriptedBackend]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = BalancerConfig(
            listen=Address("127.0.0.1", port),
            admin=Address("127.0.0.1", 0),
            backends=(BackendSpec(backends[0].url),),
        )
        balancer = Balancer(config)
        with pytest.raises(OSError, match="in use"):
            await balancer.start()
    await asyncio.sleep(0)
    leftover = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    assert [t for t in leftover if "balancer" in repr(t.get_coro())] == []
