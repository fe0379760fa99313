"""``python -m loadgen`` against a real service (Postgres + Redis), direct and behind the
real balancer: the WHERE THE TIME WENT block, and phase sums that agree with the client."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from lab.harness.topology import LOOPBACK_CIDRS, Topology, TopologyConfig
from loadgen.servertiming import SERVICE
from tests.loadgen.test_cli import run_cli

pytestmark = pytest.mark.integration

#: Each Server-Timing entry is rounded to 10 µs (service) or 1 µs (balancer) and each
#: sample is truncated to 1 µs, so averages of per-response identities agree this closely.
AGREEMENT_MS = 0.02


@pytest.fixture(scope="module")
def stack(
    tmp_path_factory: pytest.TempPathFactory, database_url: str, redis_url: str
) -> Iterator[Topology]:
    topology = Topology(
        TopologyConfig(
            instances=1,
            balancer=True,
            database_url=database_url,
            redis_url=redis_url,
            run_dir=tmp_path_factory.mktemp("loadgen-stack"),
            bcrypt_rounds=4,
            health_interval="0.5",
            limit_exempt=LOOPBACK_CIDRS,
        )
    ).start()
    try:
        yield topology
    finally:
        topology.stop()


async def run(target: str, out: Path) -> tuple[str, dict[str, Any]]:
    code, stdout, stderr = await run_cli(
        "--target", target, "--vus", "4", "--duration", "2s", "--out", str(out), "--quiet"
    )
    assert code == 0, stderr
    return stdout, orjson.loads(await asyncio.to_thread(out.read_bytes))


def check_agreement(data: dict[str, Any], outermost: tuple[str, ...]) -> None:
    """Per step: outermost server phases + remainder = the client's average duration."""
    assert data["metrics"]["checks"]["values"]["fails"] == 0
    for step, phases in data["where_the_time_went"].items():
        duration = data["metrics"][f"http_req_duration{{step:{step}}}"]["values"]["avg"]
        server = sum(phases[phase]["avg"] for phase in outermost)
        remainder = phases["remainder"]["avg"]
        assert server + remainder == pytest.approx(duration, abs=AGREEMENT_MS), step
        assert 0 < remainder < duration, step
        inner = sum(phases[name]["avg"] for name in SERVICE if name in phases)
        assert inner <= phases["app"]["avg"] + AGREEMENT_MS, step


async def test_direct_to_the_service(stack: Topology, tmp_path: Path) -> None:
    stdout, data = await run(stack.instances[0].url, tmp_path / "direct.json")
    assert "█ WHERE THE TIME WENT" in stdout
    assert "remainder (outside the handlers)" in stdout
    where = data["where_the_time_went"]
    assert list(where) == ["signup", "login", "refresh", "logout"]
    assert {"hash_wait", "hash", "db", "app", "remainder"} <= set(where["signup"])
    assert {"hash_wait", "hash", "db", "redis", "jwt", "app"} <= set(where["login"])
    assert {"redis", "jwt", "app"} <= set(where["refresh"])
    assert {"redis", "jwt", "app"} <= set(where["logout"])
    assert not any(name.startswith("lb_") for phases in where.values() for name in phases)
    assert where["login"]["hash"]["avg"] > 0.2  # bcrypt at cost 4: about a millisecond
    check_agreement(data, ("app",))


async def test_through_the_balancer(stack: Topology, tmp_path: Path) -> None:
    stdout, data = await run(stack.entry_url, tmp_path / "balanced.json")
    assert "█ WHERE THE TIME WENT" in stdout
    where = data["where_the_time_went"]
    for step, phases in where.items():
        assert {"app", "lb_queue", "lb_connect", "lb_ttfb", "remainder"} <= set(phases), step
        # The backend's time to first byte holds its handler.
        assert phases["lb_ttfb"]["avg"] >= phases["app"]["avg"], step
    check_agreement(data, ("lb_queue", "lb_connect", "lb_ttfb"))
