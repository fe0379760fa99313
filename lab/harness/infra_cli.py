"""`python -m lab infra up|down`: keep PostgreSQL and Redis up for other programs."""

from __future__ import annotations

import sys

from authscale.argparsing import ArgumentParser
from lab.errors import LabError
from lab.harness import config, infra
from lab.harness.signals import interrupt_on_sigterm, wait_for_interrupt


def main(argv: list[str], prog: str = "python -m lab infra") -> int:
    parser = ArgumentParser(
        prog=prog,
        description="up: start PostgreSQL and Redis (or use DATABASE_URL / REDIS_URL), print "
        "their URLs, then `ready`, and keep them up until Ctrl-C or SIGTERM. down: stop the "
        "lab an `up` keeps running elsewhere, or the embedded PostgreSQL and Redis one left "
        "behind when it was killed.",
    )
    parser.add_argument(
        "action",
        choices=["up", "down"],
        help="up: start them and wait; down: stop a running or left-behind one",
    )
    parser.add_argument(
        "--redis-persistence",
        action="store_true",
        help="Redis appends every write to disk (sessions survive a Redis restart)",
    )
    args = parser.parse_args(argv)
    cfg = config.infra_config(redis_persistence=args.redis_persistence)
    if args.action == "down":
        print(infra.down(cfg.state_dir))
        return 0
    interrupt_on_sigterm()
    try:
        running = infra.start(cfg)
    except LabError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    try:
        for name, what in running.describe().items():
            print(f"{name}: {what}", file=sys.stderr)
        print(f"DATABASE_URL={running.database_url}")
        print(f"REDIS_URL={running.redis_url}")
        print("ready", flush=True)
        wait_for_interrupt()
    except KeyboardInterrupt:
        pass
    finally:
        running.stop()
    return 0
