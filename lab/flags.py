"""Command-line value types the lab's commands share, so a flag means the same everywhere."""

from __future__ import annotations

import argparse

from loadgen.config import parse_duration
from loadgen.errors import ConfigError


def duration(text: str) -> float:
    """A duration written as the load generator takes it (`10s`, `1m30s`, `500ms`, or bare
    seconds), in seconds; an argparse type, so a bad one is a usage error."""
    try:
        return parse_duration(text)
    except (ConfigError, ValueError) as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc
