"""The outcome of a run: its measurements, the ``--out`` document built from them and the
verdicts."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from loadgen.interrupt import ABORTED_EXIT_CODE
from loadgen.measurements import Measurements
from loadgen.output import build_summary_data

THRESHOLDS_FAILED_EXIT_CODE = 99
"""k6's ``ThresholdsHaveFailed``."""


@dataclass(kw_only=True, eq=False)
class RunResult(Measurements):
    """Everything a run measured; :meth:`summary_data` is the k6-shaped view of it."""

    _summary: dict[str, Any] | None = field(default=None, repr=False)

    def summary_data(self) -> dict[str, Any]:
        """The ``--out`` JSON document (see :mod:`loadgen.output`), computed once."""
        if self._summary is None:
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


def write_json(result: RunResult, path: str | Path) -> None:
    """The ``--out`` file."""
    Path(path).write_text(result.to_json() + "\n", encoding="utf-8")
