"""Every thread of the service: its CPU and context switches, and the process's read/write
calls, sampled (:func:`sample`, psutil) and cut to the window (:func:`interpolate`, pure)."""

from __future__ import annotations

import bisect
import time
from collections.abc import Sequence
from dataclasses import dataclass

import psutil

from lab.errors import LabError

#: One thread's CPU seconds, voluntary and involuntary context switches.
Counters = tuple[float, ...]
ZERO: Counters = (0.0, 0.0, 0.0)


@dataclass(frozen=True)
class ThreadSample:
    at: float  # wall-clock time
    threads: dict[int, Counters]  # by thread id
    io: tuple[float, ...]  # read and write calls of the whole process


def interpolate(samples: Sequence[ThreadSample], when: float) -> ThreadSample:
    """The sample linearly interpolated at `when`; a thread absent from the earlier sample
    started in between and counts from zero."""
    if not samples:
        raise LabError("no thread samples were taken")
    i = bisect.bisect_left([s.at for s in samples], when)
    if i <= 0 or i >= len(samples):
        return samples[min(max(i, 0), len(samples) - 1)]
    a, b = samples[i - 1], samples[i]
    f = (when - a.at) / (b.at - a.at) if b.at > a.at else 0.0

    def mix(p: Sequence[float], q: Sequence[float]) -> tuple[float, ...]:
        return tuple(x + f * (y - x) for x, y in zip(p, q, strict=True))

    threads = {
        tid: mix(a.threads.get(tid, ZERO), b.threads.get(tid, a.threads.get(tid, ZERO)))
        for tid in a.threads.keys() | b.threads.keys()
    }
    return ThreadSample(when, threads, mix(a.io, b.io))


def sample(pid: int) -> ThreadSample:
    """Every thread's CPU and context switches — psutil's process-wide figures count only
    the main thread's switches, so each thread is read by its id — and read/write calls."""
    proc = psutil.Process(pid)
    threads: dict[int, Counters] = {}
    for t in proc.threads():
        try:
            ctx = psutil.Process(t.id).num_ctx_switches()
        except psutil.Error:
            continue  # the thread ended between the two reads
        threads[t.id] = (t.user_time + t.system_time, float(ctx.voluntary), float(ctx.involuntary))
    io = proc.io_counters()
    return ThreadSample(time.time(), threads, (float(io.read_count), float(io.write_count)))
