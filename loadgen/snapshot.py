"""What the progress line shows: a run's running totals at one moment, taken from a
:class:`~loadgen.stats.Recorder` about twice a second and summed over processes.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True, slots=True)
class Snapshot:
    """Running totals for the progress line (summed over processes)."""

    elapsed_s: float = 0.0
    vus: int = 0
    vus_max: int = 0
    iterations: int = 0
    iterations_failed: int = 0
    requests: int = 0
    requests_failed: int = 0
    dropped: int = 0

    def __add__(self, other: Snapshot) -> Snapshot:
        return Snapshot(
            elapsed_s=max(self.elapsed_s, other.elapsed_s),
            vus=self.vus + other.vus,
            vus_max=self.vus_max + other.vus_max,
            iterations=self.iterations + other.iterations,
            iterations_failed=self.iterations_failed + other.iterations_failed,
            requests=self.requests + other.requests,
            requests_failed=self.requests_failed + other.requests_failed,
            dropped=self.dropped + other.dropped,
        )
