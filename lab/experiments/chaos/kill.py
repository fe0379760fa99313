"""``kill``: SIGKILL one instance mid-run.

Only requests in flight on it fail, nothing fails once the balancer has ejected it, no POST
is replayed; the figure is the time to eject.
"""

from __future__ import annotations

import asyncio
import os
import signal

from lab.experiments.chaos.figures import count, failures_between, replays
from lab.experiments.chaos.load import ChaosRecord
from lab.experiments.chaos.scenario import ChaosRun, Scenario
from lab.experiments.chaos.verdict import ScenarioVerdict

#: How long the balancer may take to eject the killed instance before the verdict says never.
EJECT_WAIT_S = 15


async def fault(run: ChaosRun, verdict: ScenarioVerdict) -> None:
    topology, loop = run.topology, asyncio.get_running_loop()
    victim = topology.instances[1]
    await run.until(run.settings.fault_at)
    rows = await asyncio.to_thread(topology.backends)
    row = next(r for r in rows if r.get("url") == victim.url)
    verdict.figures["in flight on the victim just before"] = count(row, "active")
    assert victim.proc is not None
    os.killpg(victim.proc.pid, signal.SIGKILL)
    run.mark("kill")
    await asyncio.to_thread(topology.kill_instance, 1)
    while loop.time() - run.events["kill"] < EJECT_WAIT_S:
        rows = await asyncio.to_thread(topology.backends)
        if any(r.get("url") == victim.url and r.get("state") != "up" for r in rows):
            run.mark("ejected")
            break
        await asyncio.sleep(0.02)
    await run.until(run.settings.duration_s)


def judge(run: ChaosRun, record: ChaosRecord, verdict: ScenarioVerdict) -> None:
    kill = run.events["kill"]
    ejected = run.events.get("ejected")
    verdict.figures["time to eject s"] = round(ejected - kill, 3) if ejected else "never"
    failures = record.failures()
    after_kill = [o for o in failures if o.started >= kill]
    verdict.figures["failures sent after the kill, before the ejection"] = len(after_kill)
    verdict.figures["latest of them after the kill s"] = round(
        max((o.started - kill for o in after_kill), default=0.0), 3
    )
    verdict.check("the balancer ejected the killed instance", ejected is not None)
    verdict.check(
        "no POST was replayed (no 409 signup, no token_reused refresh)", not replays(record)
    )
    verdict.check(
        f"failures ({len(failures)}) are requests that reached it: "
        "502 upstream_reset, never a 500 or a hang",
        all((o.status, o.code) == (502, "upstream_reset") for o in failures),
    )
    early = [o for o in failures if o.ended < kill]
    verdict.check("nothing failed before the kill", not early)
    late = failures_between(record, ejected or kill, float("inf"))
    verdict.check(f"nothing sent after the ejection failed ({len(late)})", not late)


KILL = Scenario(name="kill", title="SIGKILL one instance mid-run", fault=fault, judge=judge)
