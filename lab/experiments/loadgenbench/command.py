"""``python -m lab bench-loadgen`` (or ``python -m lab.experiments.loadgenbench``): the
command line, the subprocess each measurement runs in, and the two tables."""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from lab.experiments.loadgenbench.static import serve, trivial_server
from lab.experiments.loadgenbench.workers import run_uvloop, worker


def _measure(
    kind: str, target: str, vus: int, duration_s: float, rate: float | None = None
) -> dict[str, Any]:
    command = [
        sys.executable,
        "-m",
        "lab.experiments.loadgenbench",
        "--worker",
        kind,
        "--target",
        target,
    ]
    command += ["--vus", str(vus), "--duration", str(duration_s)]
    if rate:
        command += ["--rate", str(rate)]
    done = subprocess.run(command, capture_output=True, text=True, check=True, env=os.environ)
    measured: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    measured["us_per_request"] = 1e6 * measured["cpu_s"] / max(1, measured["requests"])
    measured["req_per_s"] = measured["requests"] / measured["wall_s"]
    return measured


def cost_table(target: str, vus: int, duration_s: float, repeats: int) -> list[str]:
    runs: dict[str, list[dict[str, Any]]] = {"ours": [], "bare": []}
    for _ in range(repeats):
        for kind in ("ours", "bare"):
            runs[kind].append(_measure(kind, target, vus, duration_s))
    lines = [
        f"CPU per request, {vus} VUs, {duration_s:g}s, median of {repeats} (min-max)",
        f"{'':26}{'µs/req':>22}{'req/s':>22}",
    ]
    medians = {}
    for kind, label in (("ours", "loadgen (run_load)"), ("bare", "bare aiohttp loop")):
        costs = [r["us_per_request"] for r in runs[kind]]
        rates = [r["req_per_s"] for r in runs[kind]]
        medians[kind] = statistics.median(costs)
        lines.append(
            f"{label:26}{medians[kind]:>8.1f} ({min(costs):.1f}-{max(costs):.1f}){'':>3}"
            f"{statistics.median(rates):>10.0f} ({min(rates):.0f}-{max(rates):.0f})"
        )
    overhead = 100 * (medians["ours"] / medians["bare"] - 1)
    lines.append(f"overhead of loadgen over the bare loop: {overhead:+.1f}% (target <= +25%)")
    return lines


def rate_table(target: str, duration_s: float, start: float, factor: float) -> list[str]:
    lines = [
        f"open-model rate steps, {duration_s:g}s each (1 iteration = 4 requests)",
        f"{'target it/s':>12}{'achieved req/s':>16}{'lag p99 ms':>12}{'own lag p99':>13}"
        f"{'dropped':>9}{'failed':>8}  ok",
    ]
    best = 0.0
    rate = start
    while True:
        measured = _measure("ours", target, 50, duration_s, rate)
        achieved = measured["reqs_in_window"] / duration_s
        ok = (
            measured["lag_p99_ms"] < 10
            and measured["dropped"] == 0
            and measured["failed"] == 0
            and achieved >= 0.95 * 4 * rate
        )
        lines.append(
            f"{rate:>12.0f}{achieved:>16.0f}{measured['lag_p99_ms']:>12.2f}"
            f"{measured['own_lag_p99_ms']:>13.2f}{measured['dropped']:>9}"
            f"{measured['failed']:>8}  {'yes' if ok else 'no'}"
        )
        if not ok:
            break
        best = achieved
        rate *= factor
    lines.append(f"largest sustained rate with loop lag p99 < 10 ms: {best:.0f} req/s")
    return lines


#: The question the command answers, as its --help states it.
DESCRIPTION = "How much does the generator cost, and how fast can one process go?"


def main(
    argv: list[str] | None = None, prog: str = "python -m lab.experiments.loadgenbench"
) -> int:
    parser = argparse.ArgumentParser(prog=prog, description=DESCRIPTION)
    parser.add_argument(
        "--target", help="a static auth endpoint (default: start nginx or a fallback)"
    )
    parser.add_argument("--vus", type=int, default=64)
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per measurement [5]")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--start-rate", type=float, default=250.0, help="first open-model step, it/s"
    )
    parser.add_argument("--rate-factor", type=float, default=1.5)
    parser.add_argument("--skip-rate", action="store_true", help="only the CPU comparison")
    parser.add_argument("--worker", choices=("ours", "bare"), help=argparse.SUPPRESS)
    parser.add_argument("--rate", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        run_uvloop(serve(args.serve))
        return 0
    if args.worker:
        worker(args.worker, args.target, args.vus, args.duration, args.rate)
        return 0
    with _target(args.target) as (target, kind):
        print(f"target: {target} ({kind}), python {sys.version.split()[0]}, {os.cpu_count()} CPUs")
        for line in cost_table(target, args.vus, args.duration, args.repeats):
            print(line, flush=True)
        if not args.skip_rate:
            print()
            for line in rate_table(target, args.duration, args.start_rate, args.rate_factor):
                print(line, flush=True)
    return 0


@contextmanager
def _target(given: str | None) -> Iterator[tuple[str, str]]:
    if given:
        yield given, "given"
    else:
        with trivial_server() as server:
            yield server
