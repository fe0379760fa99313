"""What the two store scenarios share: stop a store mid-run, start it again after the
outage, and judge the requests around it (503 while it is down, no hang, no 500, serving
again within the recovery bound of its return)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection
from typing import Protocol

from lab.experiments.chaos.figures import failures_between, max_elapsed
from lab.experiments.chaos.load import ChaosRecord
from lab.experiments.chaos.scenario import ChaosRun, Fault, Judge
from lab.experiments.chaos.verdict import ScenarioVerdict
from lab.harness import infra


class Restartable(Protocol):
    """An embedded store server the lab started (and so can stop and start)."""

    def stop(self) -> object: ...
    def start(self) -> object: ...


def restart(store: str, server_of: Callable[[infra.Infra], Restartable | None]) -> Fault:
    """The fault: ``store`` stopped at the fault time and started after the outage."""

    async def fault(run: ChaosRun, verdict: ScenarioVerdict) -> None:
        server = server_of(run.infra)
        assert server is not None
        settings = run.settings
        await run.until(settings.fault_at)
        run.mark("down")
        await asyncio.to_thread(server.stop)
        run.mark("stopped")
        await asyncio.sleep(settings.outage_s)
        run.mark("restarting")
        await asyncio.get_running_loop().run_in_executor(run.server_thread, server.start)
        run.mark("up")
        verdict.figures[f"{store} down s"] = round(run.events["up"] - run.events["down"], 2)
        await run.until(max(settings.duration_s, run.at("up") + 2 * settings.recovery_bound_s))

    return fault


def judge_outage(needs: Collection[str]) -> Judge:
    """The judge of an outage of a store that the steps in ``needs`` depend on."""

    def judge(run: ChaosRun, record: ChaosRecord, verdict: ScenarioVerdict) -> None:
        down, up = run.events["down"], run.events["up"]
        bound = run.settings.recovery_bound_s
        failures = record.failures()
        during = [o for o in record.outcomes if o.started < up and o.ended > down]
        after = [o for o in record.outcomes if o.started >= up and o.step in needs and o.ok]
        first = min((o.ended for o in after), default=None)
        last_failure = max((o.ended for o in failures), default=None)
        verdict.figures["serving again after its return s"] = (
            round(first - up, 3) if first is not None else "never"
        )
        verdict.figures["last failure after its return s"] = (
            round(last_failure - up, 3) if last_failure is not None else "none"
        )
        verdict.figures["slowest request while down s"] = max_elapsed(during)
        verdict.check(
            "failures are 503 (unavailable or no backend), never a 500, 502 or no answer",
            all(o.status == 503 for o in failures),
        )
        verdict.check(
            f"no request took over {run.settings.hang_bound_s:.0f} s while it was down (no hang)",
            max_elapsed(during) <= run.settings.hang_bound_s,
        )
        verdict.check(
            "nothing failed before the fault", not [o for o in failures if o.ended < down]
        )
        verdict.check(
            f"serving again within {bound:.0f} s of its return",
            first is not None and first - up <= bound,
        )
        verdict.check(
            f"nothing sent {bound:.0f} s after its return failed",
            not failures_between(record, up + bound, float("inf")),
        )

    return judge
