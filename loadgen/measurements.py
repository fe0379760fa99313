"""What a run measured, before any view of it: the merged recorder and the generator's
self-monitoring. :mod:`loadgen.output` reads it to build the ``--out`` document and
:class:`loadgen.result.RunResult` adds the verdicts on top, so the dependency runs one way:
result → output → measurements."""

from __future__ import annotations

from dataclasses import dataclass

from loadgen.config import LoadConfig
from loadgen.monitor import MonitorReport
from loadgen.stats import Recorder


@dataclass(kw_only=True, eq=False)
class Measurements:
    """A run's configuration, its merged measurements and every process's self-monitoring."""

    config: LoadConfig
    recorder: Recorder
    monitors: list[MonitorReport]
    started_at: str

    @property
    def warnings(self) -> list[str]:
        """Signs that the generator itself limited or distorted the run."""
        return [w for monitor in self.monitors for w in monitor.warnings]

    @property
    def notes(self) -> list[str]:
        """Distortions not caused by the generator (a contended host)."""
        return [n for monitor in self.monitors for n in monitor.notes]
