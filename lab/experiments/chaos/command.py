"""`python -m lab chaos`: fault scenarios under load through the balancer, each with a verdict.

Every scenario starts a fresh topology (N instances behind the balancer) on one shared
PostgreSQL + Redis, runs the chaos client (:mod:`lab.experiments.chaos.load`) for a bounded
time, injects its fault, then checks what the clients saw and what the stores hold
(:mod:`lab.experiments.chaos.integrity`) and prints PASS or FAIL with its figures. The
scenarios, each in its own module with its promise, are listed in
:mod:`lab.experiments.chaos.registry`; :mod:`lab.experiments.chaos.runner` runs them.

Peak RSS of every process is sampled (psutil) in every scenario.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from pathlib import Path

from authscale.argparsing import ArgumentParser
from lab import flags
from lab.errors import LabError
from lab.experiments.chaos.options import ChaosOptions
from lab.experiments.chaos.registry import NAMES
from lab.experiments.chaos.runner import run_all
from lab.flags import duration
from lab.harness import config, infra
from lab.harness.signals import interrupt_on_sigterm
from lab.harness.topology import add_exemption_flag, describe_exemption, limit_exemption


def parser(prog: str = "python -m lab chaos") -> argparse.ArgumentParser:
    p = ArgumentParser(
        prog=prog,
        description="Fault scenarios under load through the balancer, each with a verdict.",
    )
    add = p.add_argument
    add("--scenarios", default=",".join(NAMES), help=f"comma list of {', '.join(NAMES)}")
    add("--vus", type=int, default=200, help="virtual users (200)")
    add("--overload-vus", type=int, default=2000, help="virtual users of overload (2000)")
    add("--duration", type=duration, default=20.0, help="load per scenario (20s)")
    add("--outage", type=duration, default=3.0, help="how long a store stays down (3s)")
    add(
        "--bcrypt-rounds",
        type=flags.bcrypt_cost,
        default=4,
        help="bcrypt cost (4, so load is high)",
    )
    add("--instances", type=int, default=3, help="service instances (3)")
    add("--maxconn", type=int, default=8, help="overload: balancer maxconn per backend (8)")
    add("--maxqueue", type=int, default=16, help="overload: balancer queue per backend (16)")
    add("--queue-timeout", type=float, default=1.0, help="overload: queue timeout s (1)")
    add("--no-redis-persistence", action="store_true", help="run Redis without its AOF")
    add_exemption_flag(p)
    add("--json", type=Path, help="also write the verdicts here (always: <logs>/verdicts.json)")
    return p


def options_from(
    cli: argparse.ArgumentParser, args: argparse.Namespace, run_dir: Path
) -> ChaosOptions:
    try:
        return ChaosOptions(
            scenarios=tuple(s.strip() for s in args.scenarios.split(",") if s.strip()),
            run_dir=run_dir,
            instances=args.instances,
            vus=args.vus,
            overload_vus=args.overload_vus,
            duration_s=args.duration,
            outage_s=args.outage,
            bcrypt_rounds=args.bcrypt_rounds,
            maxconn=args.maxconn,
            maxqueue=args.maxqueue,
            queue_timeout_s=args.queue_timeout,
            limit_exempt=limit_exemption(not args.no_limit_exemption),
        )
    except ValueError as exc:  # options that parse but make no sense together
        cli.error(str(exc))


def main(argv: list[str], prog: str = "python -m lab chaos") -> int:
    cli = parser(prog)
    args = cli.parse_args(argv)
    interrupt_on_sigterm()
    root = config.state_root()
    run_dir = root / "runs" / time.strftime("chaos-%Y%m%d-%H%M%S")
    options = options_from(cli, args, run_dir)
    print(describe_exemption(options.limit_exempt), file=sys.stderr)
    cfg = config.infra_config(
        state_dir=root / "chaos-infra", redis_persistence=not args.no_redis_persistence
    )
    server_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="chaos-servers")
    try:
        with infra.start(cfg) as running:
            verdicts = asyncio.run(run_all(options, running, server_thread))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except LabError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        server_thread.shutdown(wait=False)
    document = json.dumps([asdict(v) for v in verdicts], indent=2, default=str)
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "verdicts.json").write_text(document)
    if args.json:
        args.json.write_text(document)
    failed = [v.scenario for v in verdicts if not v.skipped and not v.passed]
    print(f"chaos: {len(verdicts) - len(failed)}/{len(verdicts)} passed; logs in {run_dir}")
    return 1 if failed else 0
