"""``python -m lab bench-overhead``: where the service's CPU outside bcrypt goes as users grow.

Usage: python -m lab bench-overhead [--vus 10,200] [--bcrypt-rounds 10] [--warmup 10s]
       [--duration 30s] [--strace-duration 8s] [--profile-duration 8s] [--out reports]

Per VU count: one service instance (real Postgres + Redis), the load generator as its own
process, a ramp, then a window. The service's threads, sampled every 0.2 s and cut to the
window, split its CPU into the event-loop (main) thread per iteration and the hashing
threads per hash (beside a lone thread's hash measured in the same run); context switches
and read/write calls per iteration come with them. With strace on PATH, ``strace -c -f``
counts system calls in a phase at full load just *before* the window (ptrace stops the
service at every call; it must not touch the measured CPU). With py-spy on PATH or beside
this Python, a profile of the service in the next phase (also before the window) sorts the
event-loop thread's CPU by where it ran: the event loop itself, HTTP, the Redis and Postgres
clients, JWT and MACs, logging, handing hashes to threads, the service's own code. Tables
on stdout and in reports/overhead-<stamp>/ (overhead.md, overhead.json).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from dataclasses import asdict, replace
from datetime import UTC, datetime
from pathlib import Path

import psutil

from authscale.argparsing import ArgumentParser
from lab import flags
from lab.errors import LabError
from lab.experiments.overhead.measure import lone_hash_cpu_ms, measure
from lab.experiments.overhead.profile import PROFILER_MISSING, py_spy
from lab.experiments.overhead.rows import overhead_row, step_phase_averages
from lab.experiments.overhead.settings import OverheadConfig
from lab.experiments.overhead.strace import STRACE_MISSING
from lab.experiments.overhead.table import render
from lab.harness import config, infra
from lab.harness.signals import report_command
from lab.harness.topology import add_exemption_flag
from lab.reporting import ceiling
from loadgen.errors import LoadgenError


def run(cfg: OverheadConfig, *, command: str) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    strace = bool(cfg.strace_s) and shutil.which("strace") is not None
    note = "" if strace else (STRACE_MISSING if cfg.strace_s else "no strace phase was run")
    if note:
        print(note, file=sys.stderr)
    profile = bool(cfg.profile_s) and py_spy() is not None
    profile_note = "" if profile else (PROFILER_MISSING if cfg.profile_s else "")
    if profile_note:
        print(profile_note, file=sys.stderr)
    # A lone thread's hash and verify before and after the runs; the lower figure is kept.
    ceilings = [ceiling.measure(cfg.bcrypt_cost, taken="before")]
    lone = [lone_hash_cpu_ms(cfg.bcrypt_cost)]
    running = infra.start(config.infra_config())
    runs = []
    try:
        for vus in cfg.vus:
            print(f"{vus} VUs: running", file=sys.stderr)
            run_dir = config.state_root() / "runs" / f"overhead-{stamp}" / f"vus-{vus}"
            runs.append(measure(cfg, vus, running, run_dir, strace=strace, profile=profile))
    finally:
        running.stop()
    ceilings.append(ceiling.measure(cfg.bcrypt_cost, taken="after"))
    lone.append(lone_hash_cpu_ms(cfg.bcrypt_cost))
    lone_hash_ms, wall_hash_ms = min(lone), min((c.hash_ms + c.verify_ms) / 2 for c in ceilings)
    rows = []
    for row_args, result in runs:
        row = overhead_row(**row_args, lone_hash_ms=lone_hash_ms)
        rows.append(replace(row, phases_ms=step_phase_averages(result)))
        for warning in result.get("loadgen", {}).get("warnings", []):
            print(f"{row.vus} VUs: load generator: {warning}", file=sys.stderr)
    table = render(rows, cfg, "\n\n".join(filter(None, (note, profile_note))), wall_hash_ms)
    out = cfg.out_dir / f"overhead-{stamp}"
    out.mkdir(parents=True, exist_ok=True)
    (out / "overhead.md").write_text(table)
    document = {
        "command": command,
        "parameters": {**asdict(cfg), "out_dir": str(cfg.out_dir)},
        "ceiling": [c.to_dict() for c in ceilings],
        "lone_hash_cpu_ms": lone,
        "lone_hash_wall_ms": wall_hash_ms,
        "strace": note or "strace -c -f in a phase at full load before each window",
        "profile": profile_note
        or ("py-spy in a phase at full load before each window" if profile else "none"),
        "rows": [asdict(r) for r in rows],
    }
    (out / "overhead.json").write_text(json.dumps(document, indent=2))
    print(table)
    return out


def main(argv: list[str], prog: str = "python -m lab bench-overhead") -> int:
    p = ArgumentParser(
        prog=prog, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add = p.add_argument
    add("--vus", default="10,200", help="VU counts, one run each (10,200)")
    add("--bcrypt-rounds", type=flags.bcrypt_cost, default=10, help="bcrypt cost (10)")
    add(
        "--warmup",
        type=flags.duration,
        default="10s",
        help="ramp before the window; VUs start one by one (10s)",
    )
    add("--duration", type=flags.duration, default="30s", help="measured window per VU count (30s)")
    add(
        "--strace-duration",
        type=flags.duration,
        default="8s",
        help="strace phase before the window; 0: none (8s)",
    )
    add(
        "--profile-duration",
        type=flags.duration,
        default="8s",
        help="py-spy phase before the window; 0: none (8s)",
    )
    add(
        "--graceful-stop",
        type=flags.duration,
        default="30s",
        help="time in-flight iterations may finish (30s)",
    )
    add("--out", default="reports", help="folder for reports (default reports/)")
    add_exemption_flag(p)
    args = p.parse_args(argv)
    try:
        cfg = OverheadConfig(
            vus=tuple(int(v) for v in args.vus.split(",") if v.strip()),
            bcrypt_cost=args.bcrypt_rounds,
            warmup_s=args.warmup,
            duration_s=args.duration,
            strace_s=args.strace_duration,
            profile_s=args.profile_duration,
            graceful_stop_s=args.graceful_stop,
            out_dir=Path(args.out),
            limit_exemption=not args.no_limit_exemption,
        )
    except ValueError as exc:  # options that parse but cannot be measured: a usage error
        p.error(str(exc))
    command = " ".join([*prog.split(), *argv])
    return report_command(
        lambda: run(cfg, command=command),
        expected=(LabError, LoadgenError, ValueError, psutil.Error),
        who="it",
    )  # fmt: skip


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
