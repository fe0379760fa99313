"""One VU count's figures per iteration, from the thread samples at the window's two ends
and the load generator's JSON (pure)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from lab.errors import LabError
from lab.experiments.overhead.threads import ZERO, ThreadSample

HASHES_PER_ITERATION = 2  # signup hashes once, login verifies once


def iterations_between(result: Mapping[str, Any], start: float, end: float) -> float:
    """Iterations the load generator completed between two wall-clock times, from its
    per-second series (each second's count spread evenly over that second)."""
    window, series = result["window"], result.get("timeseries", {})
    t0 = float(window["start_epoch_s"]) - float(window.get("warmup_s", 0.0))
    total = 0.0
    for t, count in zip(series.get("t", []), series.get("iterations", []), strict=False):
        lo = t0 + float(t)
        total += float(count) * max(0.0, min(lo + 1.0, end) - max(lo, start))
    return total


@dataclass(frozen=True, kw_only=True)
class Row:
    vus: int
    iterations: int
    iterations_per_s: float
    cpu_ms_per_it: float  # the whole service process
    lone_hash_ms: float  # a lone thread's CPU per hash (mean of hash, verify), outside it
    outside_bcrypt_ms_per_it: float  # cpu_ms_per_it − 2 × lone_hash_ms
    main_ms_per_it: float  # the event-loop thread
    other_threads_ms_per_hash: float  # the hashing threads, per hash
    hashing_excess_ms_per_it: float  # what they cost beyond 2 lone hashes
    unattributed_ms_per_it: float  # process − threads: threads gone, sampling error
    ctx_per_it: dict[str, float]
    io_per_it: dict[str, float]
    threads_cpu_s: dict[str, float]  # each thread's CPU in the window ("main", thread ids)
    syscalls_per_it: dict[str, float] | None = None
    strace_iterations: float = 0.0
    #: strace's attach and detach, in seconds from the window's start (negative: before).
    strace_span_s: tuple[float, float] = (0.0, 0.0)
    phases_ms: dict[str, dict[str, float]] = field(default_factory=dict)
    #: The main thread's CPU per iteration by where it ran (py-spy's shares × main_ms_per_it).
    profile_ms_per_it: dict[str, float] = field(default_factory=dict)
    profile_samples: int = 0


def overhead_row(
    *,
    vus: int,
    start: ThreadSample,
    end: ThreadSample,
    main_tid: int,
    process_cpu_s: float,
    iterations: int,
    window_s: float,
    lone_hash_ms: float,
    syscalls: Mapping[str, int] | None = None,
    strace_iterations: float = 0.0,
    strace_span_s: tuple[float, float] = (0.0, 0.0),
    profile: tuple[Mapping[str, float], int] = ({}, 0),
) -> Row:
    """One line of the table from the samples at the window's two ends."""
    if iterations <= 0:
        raise LabError(f"{vus} VUs: no iteration completed inside the window")
    used = {
        tid: [x - y for x, y in zip(c, start.threads.get(tid, ZERO), strict=True)]
        for tid, c in end.threads.items()
    }
    main = used.pop(main_tid, list(ZERO))
    others = [sum(c[k] for c in used.values()) for k in range(3)]
    per_it, lone_pair = 1000.0 / iterations, HASHES_PER_ITERATION * lone_hash_ms
    traced = None
    if syscalls and strace_iterations > 0:
        ranked = sorted(syscalls.items(), key=lambda kv: -kv[1])
        traced = {name: calls / strace_iterations for name, calls in ranked}
    return Row(
        vus=vus,
        iterations=iterations,
        iterations_per_s=iterations / window_s,
        cpu_ms_per_it=process_cpu_s * per_it,
        lone_hash_ms=lone_hash_ms,
        outside_bcrypt_ms_per_it=process_cpu_s * per_it - lone_pair,
        main_ms_per_it=main[0] * per_it,
        other_threads_ms_per_hash=others[0] * per_it / HASHES_PER_ITERATION,
        hashing_excess_ms_per_it=others[0] * per_it - lone_pair,
        unattributed_ms_per_it=(process_cpu_s - main[0] - others[0]) * per_it,
        ctx_per_it={
            "voluntary": (main[1] + others[1]) / iterations,
            "involuntary": (main[2] + others[2]) / iterations,
            "main_voluntary": main[1] / iterations,
            "main_involuntary": main[2] / iterations,
        },
        io_per_it={
            "read": (end.io[0] - start.io[0]) / iterations,
            "write": (end.io[1] - start.io[1]) / iterations,
        },
        threads_cpu_s={"main": main[0]} | {str(tid): c[0] for tid, c in sorted(used.items())},
        syscalls_per_it=traced,
        strace_iterations=strace_iterations,
        strace_span_s=strace_span_s,
        profile_ms_per_it={name: share * main[0] * per_it for name, share in profile[0].items()},
        profile_samples=profile[1],
    )


def step_phase_averages(result: Mapping[str, Any]) -> dict[str, dict[str, float]]:
    """step → phase → average ms, from the load generator's `where_the_time_went`."""
    return {
        step: {p: float(v["avg"]) for p, v in phases.items() if v and v.get("avg") is not None}
        for step, phases in (result.get("where_the_time_went") or {}).items()
    }
