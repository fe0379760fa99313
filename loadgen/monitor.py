"""Self-monitoring: is the generator itself the bottleneck?

A generator that runs out of CPU or blocks its event loop delays its own requests, and that
delay looks exactly like server latency (coordinated omission from the generator's side).
:class:`Monitor` measures, while the test runs, the process CPU time (``getrusage``, user +
system, all threads) and the event-loop lag: how late a 10 ms timer fires. It also samples,
once per second, the active VUs, CPU and the worst lag into the time series.

:func:`bottleneck_warnings` is the pure judgement: more than 90 % of one core, or a loop lag
p99 above 10 ms that is also more than 5 % of the median request duration, means the figures
of this run describe the generator as much as the server. (A 12 ms lag beside 500 ms
responses, typical when the service saturates the host's cores, shifts each timing by a few
per cent at most; it is reported, not flagged.)
"""

from __future__ import annotations

import asyncio
import contextlib
import resource
from dataclasses import dataclass, field
from time import perf_counter_ns
from typing import Any

from loadgen.histogram import Histogram
from loadgen.stats import Recorder

CPU_LIMIT = 0.90
LAG_P99_LIMIT_MS = 10.0
LAG_SHARE_LIMIT = 0.05
_SAMPLE_S = 0.01


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def bottleneck_warnings(
    cpu_fraction: float, lag_p99_ms: float, median_latency_ms: float = 0.0
) -> list[str]:
    """Human-readable warnings when the generator may have limited the run."""
    warnings = []
    if cpu_fraction > CPU_LIMIT:
        warnings.append(
            f"load generator used {cpu_fraction:.0%} of a CPU core (limit {CPU_LIMIT:.0%}): "
            "it may have been the bottleneck; use --processes or fewer VUs"
        )
    if lag_p99_ms > LAG_P99_LIMIT_MS and lag_p99_ms > LAG_SHARE_LIMIT * median_latency_ms:
        warnings.append(
            f"load generator event-loop lag p99 {lag_p99_ms:.1f} ms "
            f"(limit {LAG_P99_LIMIT_MS:.0f} ms, median request {median_latency_ms:.1f} ms): "
            "its own delays are part of the latencies"
        )
    return warnings


@dataclass(kw_only=True)
class MonitorReport:
    """What one generator process measured about itself."""

    process_index: int = 0
    wall_s: float = 0.0
    cpu_s: float = 0.0
    requests: int = 0
    loop_lag: Histogram = field(default_factory=Histogram)
    max_rss_kib: int = 0

    @property
    def cpu_fraction(self) -> float:
        return self.cpu_s / self.wall_s if self.wall_s > 0 else 0.0

    @property
    def lag_p99_ms(self) -> float:
        return self.loop_lag.percentile(99) / 1000

    def warnings(self, median_latency_ms: float = 0.0) -> list[str]:
        return bottleneck_warnings(self.cpu_fraction, self.lag_p99_ms, median_latency_ms)

    def to_dict(self, median_latency_ms: float = 0.0) -> dict[str, Any]:
        lag = self.loop_lag
        p50, p99 = (lag.percentiles([50, 99])[p] for p in (50, 99))
        return {
            "process_index": self.process_index,
            "wall_s": round(self.wall_s, 3),
            "cpu_s": round(self.cpu_s, 3),
            "cpu_percent_of_core": round(100 * self.cpu_fraction, 1),
            "cpu_us_per_request": round(1e6 * self.cpu_s / self.requests, 1)
            if self.requests
            else None,
            "loop_lag_ms": {
                "p50": p50 / 1000,
                "p99": p99 / 1000,
                "max": lag.max / 1000,
                "samples": lag.count,
            },
            "max_rss_kib": self.max_rss_kib,
            "warnings": self.warnings(median_latency_ms),
        }

    def to_wire(self) -> dict[str, Any]:
        return {
            "process_index": self.process_index,
            "wall_s": self.wall_s,
            "cpu_s": self.cpu_s,
            "requests": self.requests,
            "loop_lag": self.loop_lag.to_wire(),
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
            max_rss_kib=int(wire["max_rss_kib"]),
        )


class Monitor:
    """Samples loop lag every 10 ms and CPU/VUs once a second while the run lasts."""

    def __init__(self, recorder: Recorder, process_index: int = 0) -> None:
        self._recorder = recorder
        self._process_index = process_index
        self._lag = Histogram()
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
            max_rss_kib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        )

    async def _sample(self) -> None:
        recorder, lag = self._recorder, self._lag
        interval_ns = int(_SAMPLE_S * 1e9)
        next_second = self._t0_ns + 1_000_000_000
        cpu_before, worst_us = self._cpu0, 0
        while True:
            expected = perf_counter_ns() + interval_ns
            await asyncio.sleep(_SAMPLE_S)
            now = perf_counter_ns()
            late_us = max(0, (now - expected) // 1000)
            lag.record(late_us)
            worst_us = max(worst_us, late_us)
            if now >= next_second:
                second = recorder.second(next_second - 1)
                cpu_now = _cpu_seconds()
                second.cpu_s += cpu_now - cpu_before
                second.vus = recorder.vus
                second.loop_lag_max_us = max(second.loop_lag_max_us, worst_us)
                cpu_before, worst_us = cpu_now, 0
                next_second += 1_000_000_000
