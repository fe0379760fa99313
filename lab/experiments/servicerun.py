"""What ``bench-service`` and its Server-Timing comparison share: one service instance as
wrk's target, its sessions and scripts, and one measured wrk run.

The service runs at bcrypt cost 4 with real Postgres and Redis; wrk and the token set-up
run on loopback, which is one client to every per-address limit, so loopback is exempt.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path

from lab.experiments.proxybench import run_wrk
from lab.experiments.timingcost import Sample
from lab.harness import authclient, cpuacct, infra
from lab.harness.topology import LOOPBACK_CIDRS, Topology, TopologyConfig

BCRYPT_COST = 4

REFRESH_LUA = """
local tokens = {}
local f = assert(io.open("%(tokens)s"))
for line in f:lines() do tokens[#tokens + 1] = line end
f:close()
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
request = function()
  local token = table.remove(tokens) or "exhausted"
  return wrk.format(nil, nil, nil, '{"refresh_token":"' .. token .. '"}')
end
response = function(status, headers, body)
  local token = body:match('"refresh_token":"([^"]+)"')
  if token then tokens[#tokens + 1] = token end
end
"""

ME_LUA = """
wrk.headers["Authorization"] = "Bearer %(access)s"
"""


def service_topology(
    running: infra.Infra, run_dir: Path, env: tuple[tuple[str, str], ...] = ()
) -> Topology:
    """One service instance over ``running``'s stores, not yet started."""
    return Topology(
        TopologyConfig(
            instances=1,
            balancer=False,
            database_url=running.database_url,
            redis_url=running.redis_url,
            run_dir=run_dir,
            bcrypt_rounds=BCRYPT_COST,
            service_env=env,
            limit_exempt=LOOPBACK_CIDRS,
        )
    )


def instance_pid(topology: Topology) -> int:
    process = topology.instances[0].proc
    assert process is not None, "the topology is started"
    return process.pid


def sessions(base: str, count: int) -> tuple[str, list[str]]:
    """One access token and `count` live refresh tokens (each its own session)."""
    stamp = f"{time.time_ns():x}"
    users = [(f"bench-{stamp}-{i}@example.com", "bench password 1234") for i in range(count)]
    opened = asyncio.run(authclient.open_sessions(base, users))
    access = opened[-1].access_token if opened else ""
    return access, [tokens.refresh_token for tokens in opened]


def refresh_script(work: Path, refresh: list[str]) -> Path:
    """The wrk script of a refresh run, rotating the refresh tokens ``refresh``."""
    tokens = work / "tokens.txt"
    tokens.write_text("\n".join(refresh) + "\n")
    script = work / "refresh.lua"
    script.write_text(REFRESH_LUA % {"tokens": tokens})
    return script


def refresh_run(base: str, work: Path, connections: int) -> tuple[str, Path]:
    """URL and wrk script of a refresh run, from fresh sessions (a run rotates its tokens)."""
    _, refresh = sessions(base, connections * 2)
    return f"{base}/auth/refresh", refresh_script(work, refresh)


def measure(
    name: str,
    url: str,
    script: Path | None,
    pid: int,
    infra_pids: dict[str, int],
    args: argparse.Namespace,
) -> Sample:
    """One wrk run against ``url`` and the CPU the server (and Redis, Postgres) spent on it."""
    watched = {"server": pid, **infra_pids}
    before = cpuacct.snapshot(watched)
    result = run_wrk(url, args.duration, args.connections, 1, script)
    after = cpuacct.snapshot(watched)
    used = cpuacct.usage(before, after, result.seconds).components
    n = max(result.requests, 1)
    return Sample(
        target=name,
        rps=result.rps,
        requests=result.requests,
        errors=result.errors,
        cpu_us=used["server"] / n * 1e6,
        redis_us=used.get("redis", 0.0) / n * 1e6,
        postgres_us=used.get("postgres", 0.0) / n * 1e6,
    )


def progress(sample: Sample, repeat: int, repeats: int) -> None:
    print(
        f"[{repeat + 1}/{repeats}] {sample.target}: {sample.rps:,.0f} req/s, "
        f"{sample.cpu_us:.1f} µs CPU/request, {sample.errors} errors",
        file=sys.stderr,
    )


def write(out: Path, table: str, samples: list[Sample]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "service.md").write_text(table)
    (out / "service.json").write_text(json.dumps([s.__dict__ for s in samples], indent=2))
    print(table)
    print(f"report: {out}")
