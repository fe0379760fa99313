"""``rolling``: a rolling restart (:mod:`lab.experiments.rolling`) under load, one instance
at a time: zero failed requests, no POST replayed."""

from __future__ import annotations

import asyncio

from lab.experiments import rolling
from lab.experiments.chaos.figures import replays
from lab.experiments.chaos.load import ChaosRecord
from lab.experiments.chaos.scenario import ChaosRun, Scenario
from lab.experiments.chaos.verdict import ScenarioVerdict
from lab.harness.topology import Topology


class TopologyRestarter:
    """Stops and starts instances of a :class:`Topology` this process runs."""

    def __init__(self, topology: Topology) -> None:
        self.topology = topology

    def _index(self, url: str) -> int:
        for index, instance in enumerate(self.topology.instances):
            if instance.url == url:
                return index
        raise rolling.RollingError(f"{url} is not an instance of this topology")

    def stop(self, url: str) -> None:
        self.topology.stop_instance(self._index(url))

    def start(self, url: str) -> None:
        self.topology.start_instance(self._index(url))


async def fault(run: ChaosRun, verdict: ScenarioVerdict) -> None:
    topology = run.topology
    await run.until(run.settings.fault_at)
    assert topology.admin_url is not None
    cfg = rolling.RollingConfig(admin_url=topology.admin_url, admin_token=topology.admin_token)
    run.mark("rolling")
    steps = await asyncio.to_thread(rolling.rolling_restart, cfg, TopologyRestarter(topology))
    run.mark("rolled")
    verdict.figures["restarts"] = len(steps)
    verdict.figures["rolling restart s"] = round(run.events["rolled"] - run.events["rolling"], 2)
    verdict.figures["slowest step"] = max(steps, key=lambda s: s.total_s).describe()
    await asyncio.sleep(2.0)
    await run.until(run.settings.duration_s)


def judge(run: ChaosRun, record: ChaosRecord, verdict: ScenarioVerdict) -> None:
    verdict.check(
        "every instance was restarted",
        verdict.figures.get("restarts") == len(run.topology.instances),
    )
    verdict.check("zero failed requests", not record.failures())
    verdict.check("no POST was replayed", not replays(record))


ROLLING = Scenario(
    name="rolling", title="rolling restart, one instance at a time", fault=fault, judge=judge
)
