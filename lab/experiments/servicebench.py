"""``python -m lab bench-service``: the service's CPU per request beside bare Sanic's.

One service instance (bcrypt cost 4, real Postgres + Redis) and a bare Sanic app
(``return json({"ok": True})``, one process) are driven by wrk at the same concurrency:
``GET /auth/me`` with a valid access token, ``POST /auth/refresh`` rotating a pool of refresh
tokens (a wrk Lua script takes a token per request and puts back the one each answer
returns, so every request is a real rotation), and the bare route. Targets are interleaved
within each repeat; the table gives medians of req/s and CPU µs per request of the serving
process (and of Redis and Postgres, which the auth routes also use).

``--compare-server-timing`` measures what the service's own timing costs instead: two
instances side by side, one started with ``AUTH_SERVER_TIMING=off`` (no header, no phase
recording) and one as usual, both driven with ``POST /auth/refresh`` (after one unmeasured
run each), alternating which goes first in each repeat so that a drift of the machine falls
on both; the table gives each one's median CPU µs per request and their ratio (on ÷ off; the
budget is ≤ 1.03). See :mod:`lab.experiments.timingcost`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path

from authscale.argparsing import ArgumentParser
from lab.experiments.proxybench import SANIC_APP, WRK_MISSING, run_wrk
from lab.experiments.timingcost import (
    REFRESH,
    TIMING_OFF,
    TIMING_ON,
    Sample,
    interleaved,
    render_timing_cost,
)
from lab.flags import duration
from lab.harness import authclient, config, cpuacct, infra, procs
from lab.harness.topology import LOOPBACK_CIDRS, Topology, TopologyConfig

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


def _sessions(base: str, count: int) -> tuple[str, list[str]]:
    """One access token and `count` live refresh tokens (each its own session)."""
    stamp = f"{time.time_ns():x}"
    users = [(f"bench-{stamp}-{i}@example.com", "bench password 1234") for i in range(count)]
    sessions = asyncio.run(authclient.open_sessions(base, users))
    access = sessions[-1].access_token if sessions else ""
    return access, [tokens.refresh_token for tokens in sessions]


def main(argv: list[str], prog: str = "python -m lab bench-service") -> int:
    p = ArgumentParser(prog=prog, description=__doc__)
    p.add_argument("--duration", type=duration, default=10.0, help="per run (10s)")
    p.add_argument("--repeats", type=int, default=3, help="runs per target (3)")
    p.add_argument("--connections", type=int, default=32, help="wrk connections (32)")
    p.add_argument("--out", type=Path, default=Path("reports"), help="reports folder")
    p.add_argument(
        "--compare-server-timing",
        action="store_true",
        help=f"{REFRESH} with AUTH_SERVER_TIMING off and on, interleaved: its CPU cost",
    )
    args = p.parse_args(argv)
    if shutil.which("wrk") is None:
        print(WRK_MISSING, file=sys.stderr)
        return 2
    if args.compare_server_timing:
        return compare_server_timing(args)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    work = Path(tempfile.mkdtemp(prefix="authscale-service-bench-"))
    running = infra.start(config.infra_config())
    samples: list[Sample] = []
    try:
        with Topology(
            TopologyConfig(
                instances=1,
                balancer=False,
                database_url=running.database_url,
                redis_url=running.redis_url,
                run_dir=config.state_root() / "runs" / f"bench-service-{stamp}",
                bcrypt_rounds=4,
                # wrk and the token set-up run on loopback: one client to any limit.
                limit_exempt=LOOPBACK_CIDRS,
            )
        ) as topology:
            bare_port = procs.free_port()
            bare = procs.spawn(
                [sys.executable, "-c", SANIC_APP, str(bare_port)], log_path=work / "bare.log"
            )
            try:
                procs.wait_until(lambda: procs.port_open("127.0.0.1", bare_port), timeout=20)
                base = topology.entry_url
                access, refresh = _sessions(base, args.connections * 2)
                (work / "tokens.txt").write_text("\n".join(refresh) + "\n")
                (work / "refresh.lua").write_text(REFRESH_LUA % {"tokens": work / "tokens.txt"})
                (work / "me.lua").write_text(ME_LUA % {"access": access})
                service_pid = topology.instances[0].proc.pid  # type: ignore[union-attr]
                targets = {
                    "bare Sanic GET /": (f"http://127.0.0.1:{bare_port}/", None, bare.pid),
                    "GET /auth/me": (f"{base}/auth/me", work / "me.lua", service_pid),
                    "POST /auth/refresh": (
                        f"{base}/auth/refresh",
                        work / "refresh.lua",
                        service_pid,
                    ),
                }
                infra_pids = running.component_pids()
                for repeat in range(args.repeats):
                    for name, (url, script, pid) in targets.items():
                        if name == "POST /auth/refresh" and repeat:
                            # Each run leaves its tokens rotated; start from fresh sessions.
                            _, refresh = _sessions(base, args.connections * 2)
                            (work / "tokens.txt").write_text("\n".join(refresh) + "\n")
                        sample = _measure(name, url, script, pid, infra_pids, args)
                        samples.append(sample)
                        _progress(sample, repeat, args.repeats)
            finally:
                procs.stop(bare)
    finally:
        running.stop()
        shutil.rmtree(work, ignore_errors=True)
    _write(args.out / f"service-{stamp}", render(samples, args), samples)
    return 0


def _measure(
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


def _progress(sample: Sample, repeat: int, repeats: int) -> None:
    print(
        f"[{repeat + 1}/{repeats}] {sample.target}: {sample.rps:,.0f} req/s, "
        f"{sample.cpu_us:.1f} µs CPU/request, {sample.errors} errors",
        file=sys.stderr,
    )


def _write(out: Path, table: str, samples: list[Sample]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "service.md").write_text(table)
    (out / "service.json").write_text(json.dumps([s.__dict__ for s in samples], indent=2))
    print(table)
    print(f"report: {out}")


def compare_server_timing(args: argparse.Namespace) -> int:
    """``--compare-server-timing``: POST /auth/refresh on an instance without and one with."""
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    work = Path(tempfile.mkdtemp(prefix="authscale-service-bench-"))
    running = infra.start(config.infra_config())
    samples: list[Sample] = []
    try:
        with ExitStack() as stack:
            services: dict[str, tuple[str, int]] = {}
            for name, setting in ((TIMING_OFF, "off"), (TIMING_ON, "on")):
                topology = stack.enter_context(
                    Topology(
                        TopologyConfig(
                            instances=1,
                            balancer=False,
                            database_url=running.database_url,
                            redis_url=running.redis_url,
                            run_dir=config.state_root()
                            / "runs"
                            / f"bench-service-{stamp}-timing-{setting}",
                            bcrypt_rounds=4,
                            service_env=(("AUTH_SERVER_TIMING", setting),),
                            limit_exempt=LOOPBACK_CIDRS,
                        )
                    )
                )
                pid = topology.instances[0].proc.pid  # type: ignore[union-attr]
                services[name] = (topology.entry_url, pid)
            infra_pids = running.component_pids()
            # One unmeasured run each first, so neither is measured cold (pools, caches).
            for base, _ in services.values():
                url, script = _refresh_run(base, work, args)
                run_wrk(url, min(2.0, args.duration), args.connections, 1, script)
            for repeat, name in interleaved(list(services), args.repeats):
                base, pid = services[name]
                url, script = _refresh_run(base, work, args)
                sample = _measure(name, url, script, pid, infra_pids, args)
                samples.append(sample)
                _progress(sample, repeat, args.repeats)
    finally:
        running.stop()
        shutil.rmtree(work, ignore_errors=True)
    _write(args.out / f"service-timing-{stamp}", render_timing_cost(samples, args), samples)
    return 0


def _refresh_run(base: str, work: Path, args: argparse.Namespace) -> tuple[str, Path]:
    """URL and wrk script of a refresh run, from fresh sessions (a run rotates its tokens)."""
    _, refresh = _sessions(base, args.connections * 2)
    tokens = work / "tokens.txt"
    tokens.write_text("\n".join(refresh) + "\n")
    script = work / "refresh.lua"
    script.write_text(REFRESH_LUA % {"tokens": tokens})
    return f"{base}/auth/refresh", script


def render(samples: list[Sample], args: argparse.Namespace) -> str:
    names = list(dict.fromkeys(s.target for s in samples))
    med = {
        n: {
            k: statistics.median(getattr(s, k) for s in samples if s.target == n)
            for k in ("rps", "cpu_us", "redis_us", "postgres_us")
        }
        for n in names
    }
    errors = {n: sum(s.errors for s in samples if s.target == n) for n in names}
    bare = med[names[0]]["cpu_us"]
    lines = [
        f"wrk -t1 -c{args.connections}, {args.duration:g} s per run, median of {args.repeats}; "
        "one service instance, bcrypt cost 4",
        "",
        "| target | req/s | server CPU µs/req | × bare Sanic | Redis µs/req | Postgres µs/req "
        "| errors |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for n in names:
        m = med[n]
        lines.append(
            f"| {n} | {m['rps']:,.0f} | {m['cpu_us']:.1f} | {m['cpu_us'] / bare:.2f} | "
            f"{m['redis_us']:.1f} | {m['postgres_us']:.1f} | {errors[n]} |"
        )
    return "\n".join(lines) + "\n"
