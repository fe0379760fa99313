"""Command-line value types the lab's commands share, so a flag means the same everywhere."""

from __future__ import annotations

import argparse

from lab.harness import procs
from loadgen.errors import ConfigError
from loadgen.schedule import parse_duration


def duration(text: str) -> float:
    """A duration written as the load generator takes it (`10s`, `1m30s`, `500ms`, or bare
    seconds), in seconds; an argparse type, so a bad one is a usage error."""
    try:
        return parse_duration(text)
    except (ConfigError, ValueError) as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


#: The costs bcrypt accepts; anything else fails only once a service hashes its first password.
BCRYPT_COSTS = range(4, 32)


def bcrypt_cost(text: str) -> int:
    """`--bcrypt-rounds`: an int bcrypt accepts, so a bad one is refused before anything
    starts."""
    try:
        cost = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid int value: {text!r}") from None
    if cost not in BCRYPT_COSTS:
        raise argparse.ArgumentTypeError(
            f"bcrypt takes a cost of {BCRYPT_COSTS.start}..{BCRYPT_COSTS.stop - 1}, got {cost}"
        )
    return cost


def cpus_per_instance(text: str) -> float:
    """`--cpus-per-instance`: more than 0, and at most the cores this process may use (a
    quota above them limits nothing)."""
    try:
        cpus = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid number: {text!r}") from None
    usable = len(procs.usable_cpus())
    if not 0 < cpus <= usable:
        raise argparse.ArgumentTypeError(
            f"must be more than 0 and at most the {usable} usable cores, got {text}"
        )
    return cpus
