"""`python -m lab <command>`: the lab's commands, each implemented in its own module."""

from __future__ import annotations

import importlib
import sys

from authscale.argparsing import USAGE_EXIT_CODE

COMMANDS: dict[str, tuple[str, str]] = {
    "infra": (
        "lab.harness.infra_cli",
        "start/stop PostgreSQL + Redis (embedded, or DATABASE_URL/REDIS_URL)",
    ),
    "up": ("lab.harness.up", "infra + N service instances (+ balancer), until Ctrl-C"),
    "bench": ("lab.experiments.bench", "the scale-out experiment and its report (make bench)"),
    "bench-scale": ("lab.experiments.bench", "1…N instances with CPU limits, fitted to Amdahl/USL"),
    "bench-proxy": (
        "lab.experiments.proxybench",
        "balancer cost per request beside nginx and HAProxy",
    ),
    "bench-service": (
        "lab.experiments.servicebench",
        "service CPU per request beside bare Sanic's",
    ),
    "bench-loadgen": (
        "lab.experiments.loadgenbench",
        "the load generator's CPU per request and its largest sustained rate",
    ),
    "bench-overhead": (
        "lab.experiments.overhead.command",
        "service CPU outside bcrypt by thread, as users grow",
    ),
    "chaos": ("lab.experiments.chaos.command", "fault scenarios under load, each with a verdict"),
    "rolling-restart": (
        "lab.experiments.rolling",
        "drain, restart and re-enable instances one at a time",
    ),
    "report": ("lab.reporting.report", "re-render a report from a results.json"),
    "docker": ("lab.docker.cli", "images|up|down: the stack on a Docker engine (Swarm)"),
}


def usage(prog: str = "python -m lab") -> str:
    lines = [f"usage: {prog} <command> [options]", "", "commands:"]
    lines += [f"  {name:<16} {text}" for name, (_, text) in COMMANDS.items()]
    lines += ["", f"`{prog} <command> --help` describes each command's options."]
    return "\n".join(lines)


def main(argv: list[str] | None = None, prog: str = "python -m lab") -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] in ("-h", "--help"):
        print(usage(prog), file=sys.stdout if args else sys.stderr)
        return 0 if args else USAGE_EXIT_CODE
    command, rest = args[0], args[1:]
    if command not in COMMANDS:
        print(
            f"{prog}: error: unknown command {command!r}; choose from {', '.join(COMMANDS)} "
            "(see --help)",
            file=sys.stderr,
        )
        return USAGE_EXIT_CODE
    try:
        module = importlib.import_module(COMMANDS[command][0])
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.split(".")[0] in ("lab", "authscale"):
            raise
        print(
            f"{prog} {command}: cannot start: {exc}; the lab needs its extra: pip install "
            "'authscale[lab]' (make install does it)",
            file=sys.stderr,
        )
        return 1
    entry = {"bench-scale": "main_scale", "report": "main_report"}.get(command, "main")
    return int(getattr(module, entry)(rest, prog=f"{prog} {command}"))


if __name__ == "__main__":
    sys.exit(main())
