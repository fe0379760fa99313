"""``python -m lab bench-service``: the service's CPU per request beside bare Sanic's.

One service instance (bcrypt cost 4, real Postgres + Redis) and a bare Sanic app
(``return json({"ok": True})``, one process) are driven by wrk at the same concurrency:
``GET /auth/me`` with a valid access token, ``POST /auth/refresh`` rotating a pool of refresh
tokens (a wrk Lua script takes a token per request and puts back the one each answer
returns, so every request is a real rotation), and the bare route. Targets are interleaved
within each repeat; the table gives medians of req/s and CPU µs per request of the serving
process (and of Redis and Postgres, which the auth routes also use).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from authscale.argparsing import ArgumentParser
from lab import config, cpuacct, infra, procs
from lab.proxybench import SANIC_APP, WRK_MISSING, run_wrk
from lab.topology import LOOPBACK_CIDRS, Topology, TopologyConfig

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


@dataclass
class Sample:
    target: str
    rps: float
    requests: int
    errors: int
    cpu_us: float
    redis_us: float
    postgres_us: float


def _post(url: str, body: dict[str, str]) -> dict[str, str]:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        data = response.read()
    return dict(json.loads(data)) if data else {}


def _sessions(base: str, count: int) -> tuple[str, list[str]]:
    """One access token and `count` live refresh tokens (each its own session)."""
    stamp = f"{time.time_ns():x}"
    refresh, access = [], ""
    for i in range(count):
        creds = {"email": f"bench-{stamp}-{i}@example.com", "password": "bench password 1234"}
        _post(f"{base}/auth/signup", creds)
        tokens = _post(f"{base}/auth/login", creds)
        access = tokens["access_token"]
        refresh.append(tokens["refresh_token"])
    return access, refresh


def main(argv: list[str], prog: str = "python -m lab bench-service") -> int:
    p = ArgumentParser(prog=prog, description=__doc__)
    p.add_argument("--duration", type=float, default=10.0, help="seconds per run (10)")
    p.add_argument("--repeats", type=int, default=3, help="runs per target (3)")
    p.add_argument("--connections", type=int, default=32, help="wrk connections (32)")
    p.add_argument("--out", type=Path, default=Path("reports"), help="reports folder")
    args = p.parse_args(argv)
    if shutil.which("wrk") is None:
        print(WRK_MISSING, file=sys.stderr)
        return 2
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
                        watched = {"server": pid, **infra_pids}
                        before = cpuacct.snapshot(watched)
                        result = run_wrk(url, args.duration, args.connections, 1, script)
                        after = cpuacct.snapshot(watched)
                        used = cpuacct.usage(before, after, result.seconds).components
                        n = max(result.requests, 1)
                        samples.append(
                            Sample(
                                target=name,
                                rps=result.rps,
                                requests=result.requests,
                                errors=result.errors,
                                cpu_us=used["server"] / n * 1e6,
                                redis_us=used.get("redis", 0.0) / n * 1e6,
                                postgres_us=used.get("postgres", 0.0) / n * 1e6,
                            )
                        )
                        print(
                            f"[{repeat + 1}/{args.repeats}] {name}: {result.rps:,.0f} req/s, "
                            f"{samples[-1].cpu_us:.1f} µs CPU/request, {result.errors} errors",
                            file=sys.stderr,
                        )
            finally:
                procs.stop(bare)
    finally:
        running.stop()
        shutil.rmtree(work, ignore_errors=True)
    table = render(samples, args)
    out = args.out / f"service-{stamp}"
    out.mkdir(parents=True, exist_ok=True)
    (out / "service.md").write_text(table)
    (out / "service.json").write_text(json.dumps([s.__dict__ for s in samples], indent=2))
    print(table)
    print(f"report: {out}")
    return 0


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
