"""One step's request statistics (``signup``, ``login``, ...): HDR histograms of the k6
timings, counters, and the Server-Timing phases the target reported, each mergeable exactly
across processes and carried between them in a plain-data wire form.
"""

from __future__ import annotations

from typing import Any

from loadgen.histogram import Histogram
from loadgen.servertiming import REMAINDER, outermost_ms, parse


class StepStats:
    """Per-step request statistics; the overall figures are the merge of all steps."""

    __slots__ = (
        "bytes_received",
        "bytes_sent",
        "connecting",
        "corrected",
        "duration",
        "failed",
        "requests",
        "server_timing",
        "waiting",
    )

    def __init__(self) -> None:
        self.duration = Histogram()
        self.waiting = Histogram()
        self.connecting = Histogram()
        self.corrected = Histogram()
        self.requests = 0
        self.failed = 0
        self.bytes_sent = 0
        self.bytes_received = 0
        # Server-Timing key (and REMAINDER) -> ms as µs, created as the target reports them
        self.server_timing: dict[str, Histogram] = {}

    def merge(self, other: StepStats) -> None:
        self.duration.merge(other.duration)
        self.waiting.merge(other.waiting)
        self.connecting.merge(other.connecting)
        self.corrected.merge(other.corrected)
        self.requests += other.requests
        self.failed += other.failed
        self.bytes_sent += other.bytes_sent
        self.bytes_received += other.bytes_received
        for key, histogram in other.server_timing.items():
            mine = self.server_timing.get(key)
            if mine is None:
                mine = self.server_timing[key] = Histogram(histogram.significant_figures)
            mine.merge(histogram)

    def record_server_timing(self, header: str, duration_us: int) -> None:
        """The phases of one response's ``Server-Timing`` and what the server did not see.

        The remainder is the client-measured ``duration_us`` minus the outermost server
        time (floored at 0); a header without ``app`` or balancer entries gives none.
        """
        phases = parse(header)
        if not phases:
            return
        histograms = self.server_timing
        for key, ms in phases.items():
            histogram = histograms.get(key)
            if histogram is None:
                histogram = histograms[key] = Histogram()
            histogram.record(int(ms * 1000.0 + 0.5))
        outermost = outermost_ms(phases)
        if outermost is not None:
            remainder = histograms.get(REMAINDER)
            if remainder is None:
                remainder = histograms[REMAINDER] = Histogram()
            remainder.record(duration_us - int(outermost * 1000.0 + 0.5))

    def to_wire(self) -> dict[str, Any]:
        return {
            "duration": self.duration.to_wire(),
            "waiting": self.waiting.to_wire(),
            "connecting": self.connecting.to_wire(),
            "corrected": self.corrected.to_wire(),
            "requests": self.requests,
            "failed": self.failed,
            "bytes_sent": self.bytes_sent,
            "bytes_received": self.bytes_received,
            "server_timing": {key: h.to_wire() for key, h in self.server_timing.items()},
        }

    @classmethod
    def from_wire(cls, wire: dict[str, Any]) -> StepStats:
        stats = cls()
        stats.duration = Histogram.from_wire(wire["duration"])
        stats.waiting = Histogram.from_wire(wire["waiting"])
        stats.connecting = Histogram.from_wire(wire["connecting"])
        stats.corrected = Histogram.from_wire(wire["corrected"])
        stats.requests = int(wire["requests"])
        stats.failed = int(wire["failed"])
        stats.bytes_sent = int(wire["bytes_sent"])
        stats.bytes_received = int(wire["bytes_received"])
        stats.server_timing = {
            key: Histogram.from_wire(h) for key, h in wire.get("server_timing", {}).items()
        }
        return stats
