"""``overload``: thousands of users against small ``--maxconn/--maxqueue`` bounds.

The balancer queues up to them and answers 503 + Retry-After beyond; no 500, nothing slower
than the configured timeouts, memory of every process bounded.
"""

from __future__ import annotations

import asyncio

from lab.experiments.chaos.figures import count, max_elapsed, replays
from lab.experiments.chaos.load import ChaosRecord
from lab.experiments.chaos.scenario import ChaosRun, ChaosSettings, Scenario
from lab.experiments.chaos.verdict import ScenarioVerdict


def balancer_args(settings: ChaosSettings) -> tuple[str, ...]:
    return (
        "--maxconn",
        str(settings.maxconn),
        "--maxqueue",
        str(settings.maxqueue),
        "--queue-timeout",
        str(settings.queue_timeout_s),
        "--server-timeout",
        str(settings.server_timeout_s),
    )


async def fault(run: ChaosRun, verdict: ScenarioVerdict) -> None:
    """The load is the fault: watch the balancer's bounds while it lasts."""
    topology, loop = run.topology, asyncio.get_running_loop()
    peak_active = peak_queued = 0
    while loop.time() - run.events["load"] < run.settings.duration_s:
        for row in await asyncio.to_thread(topology.backends):
            peak_active = max(peak_active, count(row, "active"))
            peak_queued = max(peak_queued, count(row, "queued"))
        await asyncio.sleep(0.2)
    verdict.figures["peak active per backend"] = peak_active
    verdict.figures["peak queued per backend"] = peak_queued


def judge(run: ChaosRun, record: ChaosRecord, verdict: ScenarioVerdict) -> None:
    o = run.settings
    failures = record.failures()
    shed = [x for x in failures if x.status == 503]
    verdict.figures["slowest 503 s"] = max_elapsed(shed)
    verdict.figures["slowest request s"] = max_elapsed(record.outcomes)
    verdict.check(f"the balancer shed load with 503 ({len(shed)})", bool(shed))
    verdict.check("every 503 carries Retry-After", all(x.retry_after for x in shed))
    verdict.check(
        "failures are 503 only (no 500, 502, 504 or unanswered request)",
        all(x.status == 503 for x in failures),
    )
    verdict.check(
        f"in flight ≤ maxconn {o.maxconn} and queued ≤ maxqueue {o.maxqueue} per backend",
        verdict.figures["peak active per backend"] <= o.maxconn
        and verdict.figures["peak queued per backend"] <= o.maxqueue,
    )
    verdict.check(
        f"every 503 within the queue timeout ({o.queue_timeout_s:.1f} s) + 1 s",
        max_elapsed(shed) <= o.queue_timeout_s + 1.0,
    )
    verdict.check(
        f"no request over queue + server timeout ({o.queue_timeout_s + o.server_timeout_s:.0f} s)",
        max_elapsed(record.outcomes) <= o.queue_timeout_s + o.server_timeout_s,
    )
    verdict.check("no POST was replayed", not replays(record))


OVERLOAD = Scenario(
    name="overload",
    title="overload against bounded queues",
    fault=fault,
    judge=judge,
    balancer_args=balancer_args,
    vus=lambda settings: settings.overload_vus,
)
