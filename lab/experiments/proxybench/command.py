"""``python -m lab bench-proxy``: the command line, the warm-up and the interleaved runs."""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import balancer
from authscale.argparsing import ArgumentParser
from lab.experiments.proxybench.peers import Processes, Targets, start_targets
from lab.experiments.proxybench.table import ProxyRun, settings_of, write_reports
from lab.experiments.proxybench.wrk import WRK_MISSING, run_wrk
from lab.flags import duration
from lab.harness.cpuacct import tree_cpu_seconds


def build_parser(prog: str = "python -m lab bench-proxy") -> argparse.ArgumentParser:
    parser = ArgumentParser(
        prog=prog,
        description="Proxy overhead: direct vs authscale balancer vs nginx vs HAProxy (wrk).",
    )
    parser.add_argument("--duration", type=duration, default=10.0, help="per run (10s)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per target (3)")
    parser.add_argument("--connections", type=int, default=64, help="wrk connections (64)")
    parser.add_argument("--threads", type=int, default=1, help="wrk threads (1)")
    parser.add_argument("--warmup", type=duration, default=2.0, help="unmeasured first (2s)")
    parser.add_argument("--skip-nginx", action="store_true")
    parser.add_argument("--skip-haproxy", action="store_true")
    parser.add_argument(
        "--skip-pure",
        action="store_true",
        help="where the balancer is compiled, do not also measure it as pure Python",
    )
    parser.add_argument("--out", type=Path, default=Path("reports"), help="reports folder")
    return parser


@contextlib.contextmanager
def _workspace() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="proxybench-") as folder:
        yield Path(folder)


def _wanted_and_installed(name: str, *, skipped: bool, notes: list[str]) -> bool:
    """Whether to measure the third-party proxy ``name``; a note says why one is missing."""
    found = not skipped and shutil.which(name) is not None
    if not skipped and not found:
        notes.append(f"{name} is not installed (apt-get install -y {name}); not measured")
    return found


def _measure(targets: Targets, backend_pid: int, args: argparse.Namespace) -> list[ProxyRun]:
    """Warm every target up, then ``args.repeats`` rounds of one wrk run per target, with the
    CPU time the proxy (and its children) and the backend spent on each request."""
    for port, _ in targets.values():
        if args.warmup > 0:
            run_wrk(f"http://127.0.0.1:{port}/", args.warmup, args.connections, 1)
    runs: list[ProxyRun] = []
    for repeat in range(1, args.repeats + 1):
        for name, (port, pid) in targets.items():
            proxy_before = tree_cpu_seconds(pid) if pid is not None else 0.0
            backend_before = tree_cpu_seconds(backend_pid)
            result = run_wrk(
                f"http://127.0.0.1:{port}/", args.duration, args.connections, args.threads
            )
            proxy_used = (tree_cpu_seconds(pid) if pid is not None else 0.0) - proxy_before
            backend_used = tree_cpu_seconds(backend_pid) - backend_before
            count = max(result.requests, 1)
            runs.append(
                ProxyRun.of(
                    name,
                    repeat,
                    result,
                    proxy_cpu_us=proxy_used / count * 1e6 if pid is not None else None,
                    backend_cpu_us=backend_used / count * 1e6,
                )
            )
            print(
                f"  {name:<11} run {repeat}: {result.rps:,.0f} req/s, "
                f"p50 {result.p50_ms:.2f} ms, p99 {result.p99_ms:.2f} ms",
                file=sys.stderr,
            )
    return runs


def main(argv: list[str], prog: str = "python -m lab bench-proxy") -> int:
    args = build_parser(prog).parse_args(argv)
    if shutil.which("wrk") is None:
        print(WRK_MISSING, file=sys.stderr)
        return 2
    notes: list[str] = []
    third_party = [
        name
        for name, skipped in (("nginx", args.skip_nginx), ("haproxy", args.skip_haproxy))
        if _wanted_and_installed(name, skipped=skipped, notes=notes)
    ]
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    folder = args.out / f"proxy-{stamp}"
    folder.mkdir(parents=True, exist_ok=True)
    # The balancer started here runs the build this process imports (same interpreter,
    # same files).
    build = balancer.BUILD
    load_before = os.getloadavg()
    for note in notes:
        print(note, file=sys.stderr)
    with _workspace() as work:
        processes = Processes(folder)
        try:
            targets, backend_pid = start_targets(
                work,
                processes,
                third_party=third_party,
                notes=notes,
                pure_too=build.compiled and not args.skip_pure,
            )
            runs = _measure(targets, backend_pid, args)
        except (RuntimeError, subprocess.CalledProcessError, ValueError) as exc:
            print(f"bench-proxy failed: {exc}\nprocess logs are in {folder}", file=sys.stderr)
            return 1
        finally:
            processes.stop_all()

    settings = settings_of(
        threads=args.threads,
        connections=args.connections,
        duration=args.duration,
        repeats=args.repeats,
        loadavg_before=load_before[0],
        balancer_build=build.describe(),
    )
    table = write_reports(folder, settings, runs, notes)
    print(table, end="")
    for note in notes:
        print(note)
    print(f"report: {folder}")
    return 0
