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
    def median_latency_ms(self) -> float:
        """Median ``http_req_duration``, the yardstick for the generator's own loop lag."""
        return self.recorder.step_total().duration.percentile(50) / 1000

    @property
    def warnings(self) -> list[str]:
        median = self.median_latency_ms
        return [w for monitor in self.monitors for w in monitor.warnings(median)]
