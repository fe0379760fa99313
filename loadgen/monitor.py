"""Self-monitoring: is the generator itself the bottleneck?

A generator that runs out of CPU or blocks its event loop delays its own requests, and that
delay looks exactly like server latency (coordinated omission from the generator's side).
:class:`Monitor` measures, while the test runs, the process CPU time (``getrusage``, user +
system, all threads) and the event-loop lag: how late a 10 ms timer fires. It also samples,
once per second, the active VUs, CPU and the worst lag into the time series.

A late timer has two possible causes, and they call for different conclusions:

- *own lag*: the loop was busy with the generator's own work (e.g. a burst of 200 responses
  to parse and 200 requests to send). The part of the lateness during which the event-loop
  thread was on the CPU (``thread_time``) is attributed to the generator;
- *host contention*: the thread was runnable but not running because other processes (the
  service under test, typically) had the cores. That shifts timings too, but the generator
  is not the bottleneck, and more generator processes would not help.

:func:`bottleneck_warnings` is the pure judgement: more than 90 % of one core, or an own lag
p99 above 10 ms, makes the generator a bottleneck (``warnings``); a total lag p99 above 10 ms
caused by contention is reported as a ``note``.
"""

from __future__ import annotations

import asyncio
import contextlib
import resource
from dataclasses import dataclass, field
from time import perf_counter_ns, thread_time_ns
from typing import Any

from loadgen.histogram import Histogram
from loadgen.stats import Recorder

CPU_LIMIT = 0.90
LAG_P99_LIMIT_MS = 10.0
_SAMPLE_S = 0.01


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def bottleneck_warnings(cpu_fraction: float, own_lag_p99_ms: float) -> list[str]:
    """Warnings when the generator's own work may have limited or distorted the run."""
    warnings = []
    if cpu_fraction > CPU_LIMIT:
        warnings.append(
            f"load generator used {cpu_fraction:.0%} of a CPU core (limit {CPU_LIMIT:.0%}): "
            "it may have been the bottleneck; use --processes or fewer VUs"
        )
    if own_lag_p99_ms > LAG_P99_LIMIT_MS:
        warnings.append(
            f"load generator event-loop lag p99 {own_lag_p99_ms:.1f} ms from its own work "
            f"(limit {LAG_P99_LIMIT_MS:.0f} ms): its own delays are part of the latencies; "
            "use --processes"
        )
    return warnings


def contention_notes(lag_p99_ms: float, own_lag_p99_ms: float) -> list[str]:
    """A note when the loop was late mostly because other processes had the CPU."""
    if lag_p99_ms > LAG_P99_LIMIT_MS and own_lag_p99_ms <= LAG_P99_LIMIT_MS:
        return [
            f"event-loop lag p99 {lag_p99_ms:.1f} ms, of which at most {own_lag_p99_ms:.1f} ms "
            "from the generator's own work: the host's CPU was contended, so timings may be "
            f"shifted by up to about {lag_p99_ms:.0f} ms"
        ]
    return []


@dataclass(kw_only=True)
class MonitorReport:
    """What one generator process measured about itself."""

    process_index: int = 0
    wall_s: float = 0.0
    cpu_s: float = 0.0
    requests: int = 0
    loop_lag: Histogram = field(default_factory=Histogram)
    own_lag: Histogram = field(default_factory=Histogram)
    max_rss_kib: int = 0

    @property
    def cpu_fraction(self) -> float:
        return self.cpu_s / self.wall_s if self.wall_s > 0 else 0.0

    @property
    def lag_p99_ms(self) -> float:
        return self.loop_lag.percentile(99) / 1000

    @property
    def own_lag_p99_ms(self) -> float:
        return self.own_lag.percentile(99) / 1000

    @property
    def warnings(self) -> list[str]:
        return bottleneck_warnings(self.cpu_fraction, self.own_lag_p99_ms)

    @property
    def notes(self) -> list[str]:
        return contention_notes(self.lag_p99_ms, self.own_lag_p99_ms)

    def to_dict(self) -> dict[str, Any]:
        lag = self.loop_lag
        found = lag.percentiles([50, 99])
        return {
            "process_index": self.process_index,
            "wall_s": round(self.wall_s, 3),
            "cpu_s": round(self.cpu_s, 3),
            "cpu_percent_of_core": round(100 * self.cpu_fraction, 1),
            "cpu_us_per_request": round(1e6 * self.cpu_s / self.requests, 1)
            if self.requests
            else None,
            "loop_lag_ms": {
                "p50": found[50] / 1000,
                "p99": found[99] / 1000,
                "max": lag.max / 1000,
                "own_p99": self.own_lag_p99_ms,
                "samples": lag.count,
            },
            "max_rss_kib": self.max_rss_kib,
            "warnings": self.warnings,
            "notes": self.notes,
        }

    def to_wire(self) -> dict[str, Any]:
        return {
            "process_index": self.process_index,
            "wall_s": self.wall_s,
            "cpu_s": self.cpu_s,
            "requests": self.requests,
            "loop_lag": self.loop_lag.to_wire(),
            "own_lag": self.own_lag.to_wire(),
            "max_rss_kib": self.max_rss_kib,
        }

    @classmethod
    def from_wire(cls, wire: dict[str, Any]) -> MonitorReport:
        return cls(
            process_index=int(wire["process_index"]),
            wall_s=float(wire["wall_s"]),
            cpu_s=float(wire["cpu_s"]),
            requests=int(wire["requests"]),
            loop_lag=Histogram.from_wire(wire["loop_lag"]),
            own_lag=Histogram.from_wire(wire["own_lag"]),
            max_rss_kib=int(wire["max_rss_kib"]),
        )


def own_share_of_lateness(late_ns: int, thread_cpu_ns: int) -> int:
    """The part of a timer's lateness the loop thread spent on the CPU (i.e. busy itself)."""
    return max(0, min(late_ns, thread_cpu_ns))


class Monitor:
    """Samples loop lag every 10 ms and CPU/VUs once a second while the run lasts."""

    def __init__(self, recorder: Recorder, process_index: int = 0) -> None:
        self._recorder = recorder
        self._process_index = process_index
        self._lag = Histogram()
        self._own_lag = Histogram()
        self._task: asyncio.Task[None] | None = None
        self._t0_ns = 0
        self._cpu0 = 0.0

    def start(self, t0_ns: int) -> None:
        self._t0_ns = t0_ns
        self._cpu0 = _cpu_seconds()
        self._task = asyncio.ensure_future(self._sample())

    async def stop(self) -> MonitorReport:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        wall_s = (perf_counter_ns() - self._t0_ns) / 1e9
        steps = self._recorder.steps.values()
        return MonitorReport(
            process_index=self._process_index,
            wall_s=wall_s,
            cpu_s=_cpu_seconds() - self._cpu0,
            requests=sum(s.requests for s in steps),
            loop_lag=self._lag,
            own_lag=self._own_lag,
            max_rss_kib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        )

    async def _sample(self) -> None:
        recorder, lag, own_lag = self._recorder, self._lag, self._own_lag
        interval_ns = int(_SAMPLE_S * 1e9)
        next_second = self._t0_ns + 1_000_000_000
        cpu_before, worst_us = self._cpu0, 0
        while True:
            expected = perf_counter_ns() + interval_ns
            thread_before = thread_time_ns()
            await asyncio.sleep(_SAMPLE_S)
            now = perf_counter_ns()
            late = max(0, now - expected)
            lag.record(late // 1000)
            own_lag.record(own_share_of_lateness(late, thread_time_ns() - thread_before) // 1000)
            worst_us = max(worst_us, late // 1000)
            if now >= next_second:
                second = recorder.second(next_second - 1)
                cpu_now = _cpu_seconds()
                second.cpu_s += cpu_now - cpu_before
                second.vus = recorder.vus
                second.loop_lag_max_us = max(second.loop_lag_max_us, worst_us)
                cpu_before, worst_us = cpu_now, 0
                next_second += 1_000_000_000
