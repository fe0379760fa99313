"""Runs a scenario: a fresh topology on the shared stores, the chaos client's load, the
scenario's fault and judge, then the checks every scenario shares (data integrity in both
stores, peak memory of every process)."""

from __future__ import annotations

import asyncio
import contextlib
import os
from concurrent.futures import Executor

from lab.experiments.chaos import integrity, registry
from lab.experiments.chaos.figures import common_figures
from lab.experiments.chaos.load import ChaosClient, ChaosLoadConfig, ChaosRecord
from lab.experiments.chaos.memory import RssSampler
from lab.experiments.chaos.options import ChaosOptions
from lab.experiments.chaos.scenario import ChaosRun, Scenario, Survivor
from lab.experiments.chaos.survivors import open_survivors
from lab.experiments.chaos.verdict import ScenarioVerdict
from lab.harness import infra
from lab.harness.topology import Topology, TopologyConfig


def topology_for(scenario: Scenario, options: ChaosOptions, running: infra.Infra) -> Topology:
    return Topology(
        TopologyConfig(
            instances=options.instances,
            balancer=True,
            database_url=running.database_url,
            redis_url=running.redis_url,
            run_dir=options.run_dir / scenario.name,
            bcrypt_rounds=options.bcrypt_rounds,
            balancer_args=scenario.balancer_args(options),
            health_interval=options.health_interval,
            limit_exempt=options.limit_exempt,
        )
    )


async def run_scenario(
    name: str, options: ChaosOptions, running: infra.Infra, *, server_thread: Executor
) -> ScenarioVerdict:
    """Run one scenario on a fresh topology and return its verdict. ``server_thread`` (one
    worker) restarts the stores and must outlive them (see :class:`ChaosRun`)."""
    scenario = registry.scenario(name)
    verdict = ScenarioVerdict(name)
    verdict.skipped = scenario.skip(running)
    if verdict.skipped:
        return verdict
    topology = topology_for(scenario, options, running)
    await asyncio.to_thread(topology.start)
    try:
        client = _client(scenario, options, topology)
        run = ChaosRun(options, running, topology, client, server_thread)
        await _under_load(scenario, run, verdict)
    finally:
        await asyncio.to_thread(topology.stop)
    return verdict


def _client(scenario: Scenario, options: ChaosOptions, topology: Topology) -> ChaosClient:
    return ChaosClient(
        ChaosLoadConfig(
            target=topology.entry_url,
            vus=scenario.vus(options),
            duration_s=3600.0,
            request_timeout_s=options.request_timeout_s,
        )
    )


async def _under_load(scenario: Scenario, run: ChaosRun, verdict: ScenarioVerdict) -> None:
    """Load, fault and every judgement of one scenario on its started topology."""
    client, topology, running = run.client, run.topology, run.infra
    prefix = client.config.address_prefix
    survivors: list[Survivor] = []
    if scenario.survivors is not None:
        survivors = await open_survivors(topology.entry_url, prefix, run.settings.survivors)
        client.record.signups.update({email: 201 for email, _ in survivors})
    sampler = RssSampler(
        lambda: {
            **running.component_pids(),
            **topology.component_pids(),
            "chaos client": os.getpid(),
        }
    )
    record = await _load_and_fault(scenario, run, verdict, sampler)
    common_figures(verdict, record)
    verdict.figures.update({f"{event} at s": run.at(event) for event in run.events})
    scenario.judge(run, record, verdict)
    if scenario.survivors is not None and survivors:
        await scenario.survivors(run, survivors, verdict)
    report = await integrity.check(
        database_url=running.database_url,
        redis_url=running.redis_url,
        address_prefix=prefix,
        signups=record.signups,
        ended_sessions=record.ended_sessions(),
    )
    verdict.figures["integrity"] = report.summary()
    verdict.figures["peak RSS MiB"] = sampler.peak_mib()
    verdict.check(
        "data integrity: " + ("; ".join(report.problems()) or "no lost or duplicated rows"),
        report.ok,
    )
    limit = run.settings.rss_limit_mib
    verdict.check(
        f"peak RSS of every process under {limit:.0f} MiB",
        all(mib <= limit for mib in sampler.peak_mib().values()),
    )


async def _load_and_fault(
    scenario: Scenario, run: ChaosRun, verdict: ScenarioVerdict, sampler: RssSampler
) -> ChaosRecord:
    """Start the load and the memory sampling, strike, and stop both once the fault is done."""
    sampling = asyncio.create_task(sampler.run())
    running_load = asyncio.create_task(run.client.run())
    run.mark("load")
    try:
        await scenario.fault(run, verdict)
    finally:
        run.client.stop.set()
        record = await running_load
        sampling.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sampling
    return record


async def run_all(
    options: ChaosOptions, running: infra.Infra, server_thread: Executor
) -> list[ScenarioVerdict]:
    verdicts = []
    for name in options.scenarios:
        verdict = await run_scenario(name, options, running, server_thread=server_thread)
        for line in verdict.lines(registry.scenario(name).title):
            print(line, flush=True)
        verdicts.append(verdict)
    return verdicts
