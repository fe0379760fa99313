"""Every chaos scenario, once, in the order ``python -m lab chaos`` runs them."""

from __future__ import annotations

from lab.experiments.chaos.kill import KILL
from lab.experiments.chaos.overload import OVERLOAD
from lab.experiments.chaos.postgres_restart import POSTGRES
from lab.experiments.chaos.redis_restart import REDIS
from lab.experiments.chaos.rolling_restart import ROLLING
from lab.experiments.chaos.scenario import Scenario

SCENARIOS: tuple[Scenario, ...] = (KILL, ROLLING, REDIS, POSTGRES, OVERLOAD)
NAMES: tuple[str, ...] = tuple(scenario.name for scenario in SCENARIOS)


def scenario(name: str) -> Scenario:
    """The scenario called ``name``; KeyError for another name."""
    for candidate in SCENARIOS:
        if candidate.name == name:
            return candidate
    raise KeyError(name)
