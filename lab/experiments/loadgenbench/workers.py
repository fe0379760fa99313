"""The two measured load loops, each run in a fresh process of its own: the generator
(``run_load``) and a bare aiohttp loop sending the same four requests with no checks and no
statistics. Each prints one JSON line with its requests and the CPU it used around the load
only."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from lab.harness.cpuacct import own_cpu_seconds
from loadgen.stats import STEPS


def run_uvloop(coroutine: Any) -> Any:
    import uvloop

    return uvloop.run(coroutine)


async def _bare_loop(target: str, vus: int, duration_s: float) -> int:
    import aiohttp
    import orjson
    from yarl import URL

    headers = {"Content-Type": "application/json"}
    base = URL(target)
    signup, login, refresh, logout = (base / "auth" / step for step in STEPS)
    stop_at = time.perf_counter() + duration_s
    count = 0

    async def user(session: aiohttp.ClientSession, vu: int) -> None:
        nonlocal count
        iteration = 0
        while time.perf_counter() < stop_at:
            iteration += 1
            creds = orjson.dumps({"email": f"b-{vu}-{iteration}@example.com", "password": "x" * 16})
            for url, body, extra in (
                (signup, creds, None),
                (login, creds, None),
                (refresh, b'{"refresh_token":"r1"}', None),
                (logout, b'{"refresh_token":"r2"}', {"Authorization": "Bearer a2"}),
            ):
                sent = headers if extra is None else {**headers, **extra}
                response = await session.post(url, data=body, headers=sent)
                await response.read()
                response.release()
                count += 1

    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        await asyncio.gather(*(user(session, vu) for vu in range(vus)))
    return count


def worker(kind: str, target: str, vus: int, duration_s: float, rate: float | None) -> None:
    """One measurement in this (fresh) process; prints a JSON line."""
    from loadgen.config import LoadConfig
    from loadgen.runner import run_load

    async def ours() -> dict[str, Any]:
        config = LoadConfig(
            target=target,
            vus=vus,
            duration_s=duration_s,
            rate=rate,
            max_vus=max(vus, 2000) if rate else None,
            graceful_stop_s=5.0,
            quiet=True,
        )
        cpu0, wall0 = own_cpu_seconds(), time.perf_counter()
        result = await run_load(config)
        cpu, wall = own_cpu_seconds() - cpu0, time.perf_counter() - wall0
        data = result.summary_data()
        return {
            "requests": data["metrics"]["http_reqs"]["values"]["count"],
            "cpu_s": cpu,
            "wall_s": wall,
            "lag_p99_ms": data["loadgen"]["max_loop_lag_p99_ms"],
            "own_lag_p99_ms": data["loadgen"]["processes"][0]["loop_lag_ms"]["own_p99"],
            "dropped": data["metrics"]["dropped_iterations"]["values"]["count"],
            "failed": data["metrics"]["http_req_failed"]["values"]["passes"],
            "reqs_in_window": data["window"]["http_reqs_in_window"],
        }

    async def bare() -> dict[str, Any]:
        cpu0, wall0 = own_cpu_seconds(), time.perf_counter()
        requests = await _bare_loop(target, vus, duration_s)
        return {
            "requests": requests,
            "cpu_s": own_cpu_seconds() - cpu0,
            "wall_s": time.perf_counter() - wall0,
        }

    print(json.dumps(run_uvloop(ours() if kind == "ours" else bare())))
