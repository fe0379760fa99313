"""`python -m lab infra up|down`: keep PostgreSQL and Redis up for other programs."""

from __future__ import annotations

import sys

from authscale.argparsing import ArgumentParser
from lab.harness import config, infra
from lab.harness.signals import Foreground, announce_ready_and_wait, interrupt_on_sigterm


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
    with Foreground() as held:
        running = infra.start(cfg)
        try:
            for name, what in running.describe().items():
                print(f"{name}: {what}", file=sys.stderr)
            for line in running.env_lines():
                print(line)
            announce_ready_and_wait()
        finally:
            running.stop()
    return held.exit_code
