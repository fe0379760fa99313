"""The per-second time series: what happened during each second of a run.

Requests and iterations are counted in the second in which they *ended*, so a consumer can
compute rates inside any whole-second window; durations go into small HDR histograms (2
significant figures) so per-second percentiles merge exactly across processes too.
"""

from __future__ import annotations

from typing import Any

from loadgen.histogram import Histogram

SERIES_SIGNIFICANT_FIGURES = 2

_SECOND_COUNTERS = (
    "requests",
    "failed",
    "iterations",
    "iterations_failed",
    "dropped",
    "bytes_sent",
    "bytes_received",
)


class SecondStats:
    """What happened during one second of the run (requests by their end time)."""

    __slots__ = (*_SECOND_COUNTERS, "corrected", "cpu_s", "duration", "loop_lag_max_us", "vus")

    def __init__(self) -> None:
        self.requests = 0
        self.failed = 0
        self.iterations = 0
        self.iterations_failed = 0
        self.dropped = 0
        self.bytes_sent = 0
        self.bytes_received = 0
        self.vus = 0
        self.cpu_s = 0.0
        self.loop_lag_max_us = 0
        self.duration = Histogram(SERIES_SIGNIFICANT_FIGURES)
        self.corrected = Histogram(SERIES_SIGNIFICANT_FIGURES)

    def merge(self, other: SecondStats) -> None:
        for name in _SECOND_COUNTERS:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.vus += other.vus
        self.cpu_s += other.cpu_s
        self.loop_lag_max_us = max(self.loop_lag_max_us, other.loop_lag_max_us)
        self.duration.merge(other.duration)
        self.corrected.merge(other.corrected)

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {name: getattr(self, name) for name in _SECOND_COUNTERS}
        wire.update(
            vus=self.vus,
            cpu_s=self.cpu_s,
            loop_lag_max_us=self.loop_lag_max_us,
            duration=self.duration.to_wire(),
            corrected=self.corrected.to_wire(),
        )
        return wire

    @classmethod
    def from_wire(cls, wire: dict[str, Any]) -> SecondStats:
        second = cls()
        for name in _SECOND_COUNTERS:
            setattr(second, name, int(wire[name]))
        second.vus = int(wire["vus"])
        second.cpu_s = float(wire["cpu_s"])
        second.loop_lag_max_us = int(wire["loop_lag_max_us"])
        second.duration = Histogram.from_wire(wire["duration"])
        second.corrected = Histogram.from_wire(wire["corrected"])
        return second
