"""Figures every scenario's judge reads from what the chaos client recorded."""

from __future__ import annotations

from lab.experiments.chaos.load import ChaosRecord, RequestOutcome
from lab.experiments.chaos.verdict import ScenarioVerdict
from lab.harness.authclient import REFRESH, SIGNUP


def count(row: dict[str, object], name: str) -> int:
    """An integer column of an admin API backend row (0 when absent)."""
    value = row.get(name, 0)
    return value if isinstance(value, int) else 0


def failures_between(record: ChaosRecord, start: float, end: float) -> list[RequestOutcome]:
    return [o for o in record.failures() if start <= o.started < end]


def max_elapsed(outcomes: list[RequestOutcome]) -> float:
    return round(max((o.elapsed for o in outcomes), default=0.0), 3)


def replays(record: ChaosRecord) -> int:
    """Answers that prove a request reached the service twice: 409 for a fresh address,
    ``token_reused`` for a refresh token used once by this client."""
    return sum(
        1
        for o in record.outcomes
        if (o.step == SIGNUP and o.status == 409)
        or (o.step == REFRESH and o.code == "token_reused")
    )


def common_figures(verdict: ScenarioVerdict, record: ChaosRecord) -> None:
    span = max(record.ended_at - record.started_at, 1e-9)
    verdict.figures["requests"] = len(record.outcomes)
    verdict.figures["iterations ok/s"] = round(record.iterations_ok / span, 1)
    verdict.figures["failed requests"] = len(record.failures())
    verdict.figures["failed by status"] = record.failures_by_status()
