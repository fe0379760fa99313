"""The chaos command's options: the scenarios' settings, which scenarios run, and where."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lab.experiments.chaos.registry import NAMES
from lab.experiments.chaos.scenario import ChaosSettings


@dataclass(frozen=True, kw_only=True)
class ChaosOptions(ChaosSettings):
    scenarios: tuple[str, ...] = NAMES
    run_dir: Path

    def __post_init__(self) -> None:
        unknown = set(self.scenarios) - set(NAMES)
        if unknown:
            raise ValueError(f"unknown scenarios {sorted(unknown)}; choose from {NAMES}")
        super().__post_init__()
