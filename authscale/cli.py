"""The ``authscale`` command: one entry point for the four programs.

``authscale service|balancer|loadgen|lab …`` runs the program as ``python -m <program> …``
would, with help texts that show the command as typed. A program's own imports happen only
when it is chosen, so ``authscale service --help`` works without the ``lab`` extra.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Sequence

from authscale import version
from authscale.argparsing import USAGE_EXIT_CODE

PROGRAM = "authscale"

#: program → (module whose ``main(argv, prog=…)`` runs it, what it is)
PROGRAMS: dict[str, tuple[str, str]] = {
    "service": ("service.__main__", "the auth service (Sanic, Postgres, Redis)"),
    "balancer": ("balancer.__main__", "the round-robin reverse proxy with health checks"),
    "loadgen": ("loadgen.__main__", "the load generator (the auth scenario, k6 metrics)"),
    "lab": ("lab.__main__", "topologies, the experiment and its report (needs [lab])"),
}


def usage() -> str:
    lines = [f"usage: {PROGRAM} <program> [options]", f"       {PROGRAM} --version", ""]
    lines += ["programs:"]
    lines += [f"  {name:<10} {text}" for name, (_, text) in PROGRAMS.items()]
    lines += ["", f"`{PROGRAM} <program> --help` describes each program's options."]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args:
        print(usage(), file=sys.stderr)
        return USAGE_EXIT_CODE
    first, rest = args[0], args[1:]
    if first in ("-h", "--help"):
        print(usage())
        return 0
    if first in ("-V", "--version"):
        print(f"{PROGRAM} {version()}")
        return 0
    if first not in PROGRAMS:
        print(
            f"{PROGRAM}: error: unknown program {first!r}; choose from "
            f"{', '.join(PROGRAMS)} (see --help)",
            file=sys.stderr,
        )
        return USAGE_EXIT_CODE
    module_name = PROGRAMS[first][0]
    module = importlib.import_module(module_name)
    run: Callable[..., int] = module.main
    return int(run(rest, prog=f"{PROGRAM} {first}"))
