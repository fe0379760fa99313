"""What Server-Timing costs the service: the schedule and arithmetic of
``python -m lab bench-service --compare-server-timing`` (no I/O here; the runs are
:mod:`lab.experiments.timingbench`).

A fresh instance per run, started with ``AUTH_SERVER_TIMING=off`` or as usual, serves
``POST /auth/refresh``; every repeat runs both, the first of them alternating, so that a
drift of the machine falls on both alike. The cost is the ratio of their median CPU
µs per request (on ÷ off), beside the in-process cost of the code the setting switches;
issue 16's budget is ≤ 1.03.
"""

from __future__ import annotations

import argparse
import statistics
from collections.abc import Iterator
from dataclasses import dataclass

REFRESH = "POST /auth/refresh"
TIMING_OFF = f"{REFRESH}, Server-Timing off"
TIMING_ON = f"{REFRESH}, Server-Timing on"


@dataclass
class Sample:
    """One wrk run: its throughput and the CPU per request of the server, Redis, Postgres."""

    target: str
    rps: float
    requests: int
    errors: int
    cpu_us: float
    redis_us: float
    postgres_us: float


def interleaved(names: list[str], repeats: int) -> Iterator[tuple[int, str]]:
    """(repeat, name): every name once per repeat, the order reversed every other repeat."""
    for repeat in range(repeats):
        for name in names if repeat % 2 == 0 else reversed(names):
            yield repeat, name


def timing_cost(samples: list[Sample]) -> tuple[float, float, float]:
    """Median CPU µs per request without and with Server-Timing, and their ratio (on ÷ off)."""
    off = statistics.median(s.cpu_us for s in samples if s.target == TIMING_OFF)
    on = statistics.median(s.cpu_us for s in samples if s.target == TIMING_ON)
    return off, on, on / off


def render_timing_cost(
    samples: list[Sample], args: argparse.Namespace, *, direct_us: float | None = None
) -> str:
    off, on, ratio = timing_cost(samples)
    rows = []
    for name, cpu in ((TIMING_OFF, off), (TIMING_ON, on)):
        own = [s for s in samples if s.target == name]
        rps = statistics.median(s.rps for s in own)
        errors = sum(s.errors for s in own)
        rows.append(f"| {name} | {rps:,.0f} | {cpu:.1f} | {errors} |")
    return (
        "\n".join(
            [
                f"wrk -t1 -c{args.connections}, {args.duration:g} s per run, median of "
                f"{args.repeats}, a fresh instance per run, off and on alternating; "
                "bcrypt cost 4",
                "",
                "| target | req/s | server CPU µs/req | errors |",
                "| --- | ---: | ---: | ---: |",
                *rows,
                "",
                f"Server-Timing on ÷ off: {ratio:.3f} ({(ratio - 1) * 100:+.1f} % CPU per request; "
                "budget ≤ +3 %)",
                *([] if direct_us is None else ["", direct_cost_line(direct_us, off)]),
            ]
        )
        + "\n"
    )


def direct_cost_line(direct_us: float, off_us: float) -> str:
    """The in-process cost of the timing code as a share of a request's CPU without it."""
    return (
        f"In process, the code Server-Timing switches on costs {direct_us:.2f} µs per refresh "
        f"(timeit, best of 7): {direct_us / off_us * 100:.2f} % of {off_us:.1f} µs."
    )
