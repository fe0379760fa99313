"""``postgres``: PostgreSQL stopped and started again mid-run.

The same promises as ``redis`` (:mod:`lab.experiments.chaos.redis_restart`): the connection
pools reconnect, and users created before the restart can still log in.
"""

from __future__ import annotations

from lab.experiments.chaos.load import NEEDS_POSTGRES
from lab.experiments.chaos.scenario import ChaosRun, Scenario, Survivor
from lab.experiments.chaos.store_restart import judge_outage, restart
from lab.experiments.chaos.survivors import survivors_alive
from lab.experiments.chaos.verdict import ScenarioVerdict
from lab.harness import infra
from lab.harness.authclient import LOGIN


def skip(running: infra.Infra) -> str | None:
    if running.postgres is None:
        return "PostgreSQL is external (DATABASE_URL): the lab cannot restart it"
    return None


async def judge_users(run: ChaosRun, survivors: list[Survivor], verdict: ScenarioVerdict) -> None:
    alive = await survivors_alive(run.topology.entry_url, survivors, LOGIN)
    verdict.figures["users from before who can log in"] = f"{alive}/{len(survivors)}"
    verdict.check("users created before the restart can log in", alive == len(survivors))


POSTGRES = Scenario(
    name="postgres",
    title="PostgreSQL restarted mid-run",
    fault=restart("postgres", lambda running: running.postgres),
    judge=judge_outage(NEEDS_POSTGRES),
    skip=skip,
    survivors=judge_users,
)
