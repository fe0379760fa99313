"""A mergeable latency histogram: HdrHistogram buckets plus exact count, sum, min and max.

Values are integer microseconds. Bucketing is HdrHistogram's (via the ``hdrhistogram``
package), so percentiles are within the configured number of significant figures (3 by
default: at most 0.1 % off) and two histograms merge exactly, also across processes through
:meth:`Histogram.to_wire` / :meth:`Histogram.from_wire`. Count, sum, min and max are kept
exactly, so ``avg``, ``min`` and ``max`` are exact like k6's.

Recording is the hot path of the generator: :meth:`Histogram.record` computes the bucket
index itself with ``int.bit_length`` (about 4x cheaper than ``HdrHistogram.record_value``)
and writes straight into the package's counts array; the package's own bookkeeping is
synchronised only when the histogram is read, encoded or merged.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import Any

from hdrh.histogram import HdrHistogram

HIGHEST_TRACKABLE_US = 3_600_000_000
"""One hour: longer values are clamped (the request timeout is far below it)."""


class Histogram:
    """Integer microsecond samples in HDR buckets, with exact count/sum/min/max."""

    __slots__ = (
        "_counts",
        "_half_count",
        "_half_magnitude",
        "_hdr",
        "_mask",
        "_shift",
        "_unit",
        "count",
        "max",
        "min",
        "significant_figures",
        "total",
    )

    def __init__(self, significant_figures: int = 3) -> None:
        hdr = HdrHistogram(1, HIGHEST_TRACKABLE_US, significant_figures)
        self._hdr = hdr
        self._counts = hdr.counts
        self._unit: int = hdr.unit_magnitude
        self._half_magnitude: int = hdr.sub_bucket_half_count_magnitude
        self._half_count: int = hdr.sub_bucket_half_count
        self._mask: int = hdr.sub_bucket_mask
        self._shift: int = self._unit + self._half_magnitude + 1
        self.significant_figures = significant_figures
        self.count = 0
        self.total = 0
        self.min = sys.maxsize
        self.max = 0

    def __repr__(self) -> str:
        return f"Histogram(count={self.count}, min={self.min_us}, max={self.max})"

    def record(self, value_us: int) -> None:
        """Add one sample; negative values count as 0, huge ones are clamped."""
        if value_us < 0:
            value_us = 0
        elif value_us > HIGHEST_TRACKABLE_US:
            value_us = HIGHEST_TRACKABLE_US
        bucket = (value_us | self._mask).bit_length() - self._shift
        sub_bucket = value_us >> (bucket + self._unit)
        self._counts[((bucket + 1) << self._half_magnitude) + sub_bucket - self._half_count] += 1
        self.count += 1
        self.total += value_us
        if value_us < self.min:
            self.min = value_us
        if value_us > self.max:
            self.max = value_us

    @property
    def min_us(self) -> int:
        return self.min if self.count else 0

    @property
    def mean_us(self) -> float:
        return self.total / self.count if self.count else 0.0

    def _sync(self) -> HdrHistogram:
        hdr = self._hdr
        hdr.total_count = self.count
        hdr.min_value = self.min
        hdr.max_value = self.max
        return hdr

    def percentiles(self, percentiles: Iterable[float]) -> dict[float, int]:
        """Values (µs) at the given percentiles (0..100), clamped to the exact min..max."""
        wanted = list(percentiles)
        if not self.count:
            return dict.fromkeys(wanted, 0)
        found = self._sync().get_percentile_to_value_dict(wanted)
        return {p: max(self.min, min(self.max, int(found.get(p, self.max)))) for p in wanted}

    def percentile(self, percentile: float) -> int:
        return self.percentiles([percentile])[percentile]

    def merge(self, other: Histogram) -> None:
        """Add every sample of ``other`` (same significant figures) to this histogram."""
        if other.significant_figures != self.significant_figures:
            raise ValueError("cannot merge histograms of different precision")
        if not other.count:
            return
        self._sync().add(other._sync())
        self._adopt_exact(other.count, other.total, other.min, other.max)

    def _adopt_exact(self, count: int, total: int, low: int, high: int) -> None:
        self.count += count
        self.total += total
        self.min = min(self.min, low)
        self.max = max(self.max, high)
        self._sync()

    def to_wire(self) -> dict[str, Any]:
        """A JSON/pickle-friendly form that :meth:`from_wire` restores exactly."""
        return {
            "sig": self.significant_figures,
            "count": self.count,
            "total": self.total,
            "min": self.min_us,
            "max": self.max,
            "hdr": self._sync().encode().decode("ascii") if self.count else "",
        }

    @classmethod
    def from_wire(cls, wire: dict[str, Any]) -> Histogram:
        histogram = cls(int(wire["sig"]))
        if wire["count"]:
            histogram._hdr.decode_and_add(wire["hdr"].encode("ascii"))
            histogram._adopt_exact(
                int(wire["count"]), int(wire["total"]), int(wire["min"]), int(wire["max"])
            )
        return histogram
