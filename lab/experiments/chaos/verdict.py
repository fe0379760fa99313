"""A scenario's verdict: its checks (each PASS or FAIL), the figures behind them, or a skip."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class ScenarioVerdict:
    """What one scenario found; its fields are what verdicts.json holds for it."""

    scenario: str
    checks: list[tuple[str, bool]] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)
    skipped: str | None = None

    @property
    def passed(self) -> bool:
        return self.skipped is None and all(ok for _, ok in self.checks)

    def check(self, what: str, ok: bool) -> None:
        self.checks.append((what, ok))

    def lines(self, title: str) -> list[str]:
        """The verdict as printed, under the scenario's ``title``."""
        head = f"== {self.scenario}: {title} =="
        if self.skipped:
            return [head, f"SKIP {self.scenario}: {self.skipped}"]
        out = [head]
        out += [f"  {name}: {_show(value)}" for name, value in self.figures.items()]
        out += [f"  [{'ok' if ok else 'FAIL'}] {what}" for what, ok in self.checks]
        out.append(f"{'PASS' if self.passed else 'FAIL'} {self.scenario}")
        return out


def _show(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3f}"
    if isinstance(value, dict):
        return ", ".join(f"{k} {_show(v)}" for k, v in value.items()) or "none"
    return str(value)
