"""``python -m lab bench-service``: the service's CPU per request beside bare Sanic's.

One service instance (bcrypt cost 4, real Postgres + Redis) and a bare Sanic app
(``return json({"ok": True})``, one process) are driven by wrk at the same concurrency:
``GET /auth/me`` with a valid access token, ``POST /auth/refresh`` rotating a pool of refresh
tokens (a wrk Lua script takes a token per request and puts back the one each answer
returns, so every request is a real rotation), and the bare route. Targets are interleaved
within each repeat; the table gives medians of req/s and CPU µs per request of the serving
process (and of Redis and Postgres, which the auth routes also use).

``--compare-server-timing`` measures what the service's own timing costs instead:
``POST /auth/refresh`` on a fresh instance per run, started with ``AUTH_SERVER_TIMING=off``
(no header, no phase recording) or as usual, alternating, beside the in-process cost of the
code the setting switches (see :mod:`lab.experiments.timingbench`).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from authscale.argparsing import ArgumentParser
from lab.experiments import servicerun
from lab.experiments.proxybench import SANIC_APP, WRK_MISSING
from lab.experiments.timingbench import compare_server_timing
from lab.experiments.timingcost import REFRESH, Sample
from lab.flags import duration
from lab.harness import config, infra, procs


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
        with servicerun.service_topology(
            running, config.state_root() / "runs" / f"bench-service-{stamp}"
        ) as topology:
            bare_port = procs.free_port()
            bare = procs.spawn(
                [sys.executable, "-c", SANIC_APP, str(bare_port)], log_path=work / "bare.log"
            )
            try:
                procs.wait_until(lambda: procs.port_open("127.0.0.1", bare_port), timeout=20)
                base = topology.entry_url
                access, refresh = servicerun.sessions(base, args.connections * 2)
                refresh_lua = servicerun.refresh_script(work, refresh)
                (work / "me.lua").write_text(servicerun.ME_LUA % {"access": access})
                service_pid = servicerun.instance_pid(topology)
                targets = {
                    "bare Sanic GET /": (f"http://127.0.0.1:{bare_port}/", None, bare.pid),
                    "GET /auth/me": (f"{base}/auth/me", work / "me.lua", service_pid),
                    "POST /auth/refresh": (f"{base}/auth/refresh", refresh_lua, service_pid),
                }
                infra_pids = running.component_pids()
                for repeat in range(args.repeats):
                    for name, (url, script, pid) in targets.items():
                        if name == "POST /auth/refresh" and repeat:
                            # Each run leaves its tokens rotated; start from fresh sessions.
                            servicerun.refresh_run(base, work, args.connections)
                        sample = servicerun.measure(name, url, script, pid, infra_pids, args)
                        samples.append(sample)
                        servicerun.progress(sample, repeat, args.repeats)
            finally:
                procs.stop(bare)
    finally:
        running.stop()
        shutil.rmtree(work, ignore_errors=True)
    servicerun.write(args.out / f"service-{stamp}", render(samples, args), samples)
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
