"""`python -m lab up`: infra + N service instances (+ the balancer) until Ctrl-C."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from authscale.argparsing import ArgumentParser
from lab import flags
from lab.errors import CpuLimitError
from lab.harness import config, cpulimit, infra
from lab.harness.signals import Foreground, announce_ready_and_wait, interrupt_on_sigterm
from lab.harness.topology import (
    Topology,
    TopologyConfig,
    add_exemption_flag,
    describe_exemption,
    limit_exemption,
)


def parser(prog: str = "python -m lab up") -> argparse.ArgumentParser:
    p = ArgumentParser(
        prog=prog,
        description="Start PostgreSQL + Redis (or use DATABASE_URL/REDIS_URL), N service "
        "instances and optionally the balancer; print their URLs, then `ready`; stop "
        "everything on Ctrl-C or SIGTERM.",
    )
    p.add_argument("--instances", type=int, default=1, help="service instances (default 1)")
    p.add_argument("--balancer", action="store_true", help="put the balancer in front")
    p.add_argument(
        "--bcrypt-rounds", type=flags.bcrypt_cost, default=10, help="bcrypt cost (default 10)"
    )
    p.add_argument(
        "--cpus-per-instance",
        type=flags.cpus_per_instance,
        default=None,
        help="CPU limit per instance (cgroup quota, else pinning for whole CPUs)",
    )
    add_exemption_flag(p)
    return p


def main(argv: list[str], prog: str = "python -m lab up") -> int:
    p = parser(prog)
    args = p.parse_args(argv)
    # Checked before anything starts, so a mistyped option costs nothing to undo.
    if args.instances < 1:
        p.error("--instances must be at least 1")
    try:
        limiter = cpulimit.choose(args.cpus_per_instance) if args.cpus_per_instance else None
    except CpuLimitError as exc:  # this machine cannot honour the option as given
        p.error(str(exc))
    interrupt_on_sigterm()
    stack: list[infra.Infra | Topology] = []
    held = Foreground()
    try:
        with held:
            running = infra.start(config.infra_config())
            stack.append(running)
            run_dir = config.state_root() / "runs" / time.strftime("up-%Y%m%d-%H%M%S")
            topology = Topology(
                TopologyConfig(
                    instances=args.instances,
                    balancer=args.balancer,
                    database_url=running.database_url,
                    redis_url=running.redis_url,
                    run_dir=Path(run_dir),
                    bcrypt_rounds=args.bcrypt_rounds,
                    limit_exempt=limit_exemption(not args.no_limit_exemption),
                ),
                limiter=limiter,
            )
            stack.append(topology)
            print(describe_exemption(topology.config.limit_exempt), file=sys.stderr)
            topology.start()
            for line in running.env_lines():
                print(line)
            for line in topology.describe_lines():
                print(line)
            if limiter:
                print(f"cpu_limit={args.cpus_per_instance} per instance ({limiter.method})")
            print(f"logs={run_dir}")
            announce_ready_and_wait()
    finally:
        for part in reversed(stack):
            part.stop()
        if limiter is not None:
            limiter.cleanup()
    return held.exit_code
