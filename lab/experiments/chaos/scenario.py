"""What a chaos scenario is: an object with its name, title, fault and judge, and the run
(stores, topology, client, event times) that the fault acts on and the judge reads.

Each scenario lives in a module of its own and is listed once, in
:mod:`lab.experiments.chaos.registry`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field

from lab.experiments.chaos.load import ChaosClient, ChaosRecord
from lab.experiments.chaos.verdict import ScenarioVerdict
from lab.harness import infra
from lab.harness.topology import LOOPBACK_CIDRS, Topology

#: A user opened before the fault: (address, refresh token).
Survivor = tuple[str, str]


@dataclass(frozen=True, kw_only=True)
class ChaosSettings:
    """The figures the scenarios run and are judged by (the command's options add which
    scenarios run and where their logs go)."""

    instances: int = 3
    vus: int = 200
    overload_vus: int = 2000
    duration_s: float = 20.0
    #: When the fault strikes, in seconds after the load starts (default: a third in).
    fault_at_s: float | None = None
    outage_s: float = 3.0
    bcrypt_rounds: int = 4
    health_interval: str = "0.5"
    #: CIDRs exempt from the services' per-address limits (the loopback load generator).
    limit_exempt: tuple[str, ...] = LOOPBACK_CIDRS
    recovery_bound_s: float = 2.0
    #: No request may take longer than this while a store is down.
    hang_bound_s: float = 3.0
    maxconn: int = 8
    maxqueue: int = 16
    queue_timeout_s: float = 1.0
    server_timeout_s: float = 10.0
    request_timeout_s: float = 15.0
    rss_limit_mib: float = 1024.0
    survivors: int = 20

    def __post_init__(self) -> None:
        if self.instances < 2:
            raise ValueError("the scenarios need at least two instances")
        if self.duration_s <= 0 or self.vus < 1 or self.overload_vus < 1:
            raise ValueError("duration and VUs must be positive")

    @property
    def fault_at(self) -> float:
        return self.fault_at_s if self.fault_at_s is not None else self.duration_s / 3


@dataclass
class ChaosRun:
    """One scenario's running parts and the moments (event-loop clock) of its events."""

    settings: ChaosSettings
    infra: infra.Infra
    topology: Topology
    client: ChaosClient
    #: The thread that restarts PostgreSQL and Redis. It must live as long as they do: a
    #: server dies with the thread that started it (the parent-death signal is per thread).
    server_thread: Executor
    events: dict[str, float] = field(default_factory=dict)

    def mark(self, event: str) -> float:
        now = asyncio.get_running_loop().time()
        self.events[event] = now
        return now

    async def until(self, offset_s: float) -> None:
        """Sleep until ``offset_s`` seconds after the load started."""
        loop = asyncio.get_running_loop()
        await asyncio.sleep(max(0.0, self.events["load"] + offset_s - loop.time()))

    def at(self, event: str) -> float:
        """An event's time in seconds after the load started."""
        return round(self.events[event] - self.events["load"], 3)


Fault = Callable[[ChaosRun, ScenarioVerdict], Awaitable[None]]
Judge = Callable[[ChaosRun, ChaosRecord, ScenarioVerdict], None]
SurvivorJudge = Callable[[ChaosRun, list[Survivor], ScenarioVerdict], Awaitable[None]]


def runs_anywhere(running: infra.Infra) -> str | None:
    return None


def no_balancer_args(settings: ChaosSettings) -> tuple[str, ...]:
    return ()


def usual_vus(settings: ChaosSettings) -> int:
    return settings.vus


@dataclass(frozen=True, kw_only=True)
class Scenario:
    """A fault under load and how it is judged."""

    name: str
    title: str
    #: Waits for its moment (``run.until(settings.fault_at)``), strikes, and returns once the
    #: load may stop; it may add figures it measured while striking.
    fault: Fault
    #: Checks what the client recorded against the scenario's promise.
    judge: Judge
    #: Why the scenario cannot run on these stores, or None.
    skip: Callable[[infra.Infra], str | None] = runs_anywhere
    #: Balancer flags beyond the topology's own.
    balancer_args: Callable[[ChaosSettings], tuple[str, ...]] = no_balancer_args
    vus: Callable[[ChaosSettings], int] = usual_vus
    #: When set, users are opened before the load and judged by it after the fault.
    survivors: SurvivorJudge | None = None
