"""The outcome of a run: merged measurements, self-monitoring and verdicts."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from loadgen.config import LoadConfig
from loadgen.interrupt import ABORTED_EXIT_CODE
from loadgen.monitor import MonitorReport
from loadgen.stats import Recorder

THRESHOLDS_FAILED_EXIT_CODE = 99
"""k6's ``ThresholdsHaveFailed``."""


@dataclass(kw_only=True, eq=False)
class RunResult:
    """Everything a run measured; :meth:`summary_data` is the k6-shaped view of it."""

    config: LoadConfig
    recorder: Recorder
    monitors: list[MonitorReport]
    started_at: str
    _summary: dict[str, Any] | None = field(default=None, repr=False)

    def summary_data(self) -> dict[str, Any]:
        """The ``--out`` JSON document (see :mod:`loadgen.output`), computed once."""
        if self._summary is None:
            from loadgen.output import build_summary_data

            self._summary = build_summary_data(self)
        return self._summary

    def to_json(self) -> str:
        return orjson.dumps(self.summary_data(), option=orjson.OPT_INDENT_2).decode()

    @property
    def thresholds_ok(self) -> bool:
        return bool(self.summary_data()["thresholds_ok"])

    @property
    def exit_code(self) -> int:
        if not self.thresholds_ok:
            return THRESHOLDS_FAILED_EXIT_CODE
        return ABORTED_EXIT_CODE if self.recorder.aborted else 0

    @property
    def warnings(self) -> list[str]:
        """Signs that the generator itself limited or distorted the run."""
        return [w for monitor in self.monitors for w in monitor.warnings]

    @property
    def notes(self) -> list[str]:
        """Distortions not caused by the generator (a contended host)."""
        return [n for monitor in self.monitors for n in monitor.notes]
