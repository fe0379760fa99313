"""`python -m lab docker images|up|down`: the stack on a Docker engine of this machine.

images   build what the stack needs (a local base and stand-ins where nothing can be
         pulled); prints each image with its size and build time
up       engine (started when none answers) + one-node swarm + docker/stack.yml; prints
         balancer=…, admin=…, prometheus=…, then `ready`; stays up until Ctrl-C/SIGTERM,
         then removes what it made
down     removes the stack, the swarm (if the lab made it) and the engine (if the lab
         started it), with the bridges and iptables chains the engine left behind
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from authscale.argparsing import ArgumentParser
from lab.docker import engine as engine_mod
from lab.docker import netclean
from lab.docker.engine import Engine, EngineConfig
from lab.docker.images import Images
from lab.docker.stack import Endpoints, Stack, StackConfig
from lab.harness import config
from lab.harness.signals import Foreground, announce_ready_and_wait, interrupt_on_sigterm

REPO = Path(__file__).resolve().parents[2]


def state_dir() -> Path:
    return config.state_root() / "docker"


@dataclass
class Platform:
    """Engine, images and stack of one lab process, torn down in reverse."""

    say: Callable[[str], None] = print

    def __post_init__(self) -> None:
        self.dir = state_dir()
        self.engine = Engine(EngineConfig(state_dir=self.dir))
        self.images = Images(self.engine, REPO, self.dir, say=self.say)
        self.stack = Stack(self.engine, REPO, self.dir, say=self.say)
        self.started_engine = False
        self.deployed = False

    def start_engine(self) -> None:
        self.started_engine = self.engine.ensure()
        if self.started_engine:
            self.say(f"engine: dockerd started, state in {self.dir}")
        if not engine_mod.ipvs_available():
            self.say(engine_mod.NO_IPVS_NOTE)

    def image_variables(self) -> dict[str, str]:
        """The images, built or brought up to date (seconds when nothing changed: the
        base is kept, the builds hit the engine's cache), as stack variables."""
        self.images.build_all()
        return self.images.variables()

    def up(self, cfg: StackConfig) -> Endpoints:
        self.start_engine()
        variables = self.image_variables()
        self.stack.ensure_swarm()
        self.deployed = True
        return self.stack.deploy(cfg, variables)

    def down(self) -> list[str]:
        """Remove everything this lab made; returns the leftovers it could not remove."""
        record = self.engine.record()
        if record.get("host"):
            self.engine.host = str(record["host"])
        failed: list[str] = []
        if self.engine.answers():
            self.stack.remove()
            self.stack.leave_swarm()
        if record.get("pid"):
            failed += self.engine.stop()
            before = netclean.NetState.from_dict(record.get("net", {}))
            failed += netclean.leftovers(before)
        return failed


def print_endpoints(endpoints: Endpoints, platform: Platform) -> None:
    print(f"balancer={endpoints.balancer}")
    print(f"admin={endpoints.admin}")
    print(f"prometheus={endpoints.prometheus}")
    print(f"secrets={platform.dir / 'secrets'}")
    if endpoints.exempt:
        print(
            f"limit_exemption={','.join(endpoints.exempt)} (the host's load generator skips the "
            "per-address limits; --no-limit-exemption keeps them)"
        )


def parser(prog: str = "python -m lab docker") -> argparse.ArgumentParser:
    p = ArgumentParser(
        prog=prog,
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = p.add_subparsers(dest="verb", required=True)
    sub.add_parser("images", help="build the images the stack needs")
    up = sub.add_parser("up", help="engine + swarm + stack until Ctrl-C")
    up.add_argument("--replicas", type=int, default=3, help="service replicas (3)")
    up.add_argument(
        "--cpus-per-replica", type=float, default=None, help="CPU limit per replica (none)"
    )
    up.add_argument("--bcrypt-rounds", type=int, default=10, help="bcrypt cost (10)")
    up.add_argument(
        "--no-limit-exemption",
        action="store_true",
        help="keep every per-address limit on for the host's clients too",
    )
    up.add_argument("--access-log", action="store_true", help="one log line per request")
    sub.add_parser("down", help="remove what `up` made (stack, swarm, engine)")
    return p


def main(argv: list[str], prog: str = "python -m lab docker") -> int:
    p = parser(prog)
    args = p.parse_args(argv)
    try:
        if args.verb == "up":
            cfg = StackConfig(
                replicas=args.replicas,
                cpus_per_replica=args.cpus_per_replica,
                bcrypt_rounds=args.bcrypt_rounds,
                limit_exemption=not args.no_limit_exemption,
                access_log=args.access_log,
            )
    except ValueError as exc:
        p.error(str(exc))
    interrupt_on_sigterm()
    platform = Platform()
    held = Foreground()
    try:
        with held:
            if args.verb == "images":
                platform.start_engine()
                for built in platform.images.build_all():
                    size = "-" if built.size_mb is None else f"{built.size_mb:g} MB"
                    print(
                        f"{built.variable}={built.image} ({built.how}, {size}, {built.seconds:g} s)"
                    )
                return 0
            if args.verb == "down":
                failed = platform.down()
                for line in failed:
                    print(f"left behind: {line}", file=sys.stderr)
                print("down" if not failed else "down, with leftovers")
                return 1 if failed else 0
            endpoints = platform.up(cfg)
            print_endpoints(endpoints, platform)
            announce_ready_and_wait()
    finally:
        if platform.deployed or platform.started_engine:
            for line in platform.down():
                print(f"left behind: {line}", file=sys.stderr)
    return held.exit_code
