"""``redis``: Redis stopped and started again mid-run.

503 while it is down (no hang, no 500), serving again within the recovery bound of its
return; sessions opened before survive when Redis persists (AOF). The trade-off: the
append-only file costs a write per session change and an fsync a second, and a crash (not a
clean stop) can still lose the last second; without it a restart loses every session and
every user must log in again (``--no-redis-persistence`` shows it: 0 survive). The deny-list
goes with the sessions, which is harmless: a deny-listed token's session is gone too, so the
token is refused either way.
"""

from __future__ import annotations

from lab.experiments.chaos.load import NEEDS_REDIS
from lab.experiments.chaos.scenario import ChaosRun, Scenario, Survivor
from lab.experiments.chaos.store_restart import judge_outage, restart
from lab.experiments.chaos.survivors import survivors_alive
from lab.experiments.chaos.verdict import ScenarioVerdict
from lab.harness import infra
from lab.harness.authclient import REFRESH


def skip(running: infra.Infra) -> str | None:
    if running.redis is None:
        return "Redis is external (REDIS_URL): the lab cannot restart it"
    return None


async def judge_sessions(
    run: ChaosRun, survivors: list[Survivor], verdict: ScenarioVerdict
) -> None:
    alive = await survivors_alive(run.topology.entry_url, survivors, REFRESH)
    verdict.figures["sessions from before that survived"] = f"{alive}/{len(survivors)}"
    persistent = run.infra.redis is not None and run.infra.redis.persistence
    if persistent:
        verdict.check("sessions opened before survive (AOF on)", alive == len(survivors))
    else:
        verdict.figures["note"] = "Redis persistence is off: sessions are lost on restart"


REDIS = Scenario(
    name="redis",
    title="Redis restarted mid-run",
    fault=restart("redis", lambda running: running.redis),
    judge=judge_outage(NEEDS_REDIS),
    skip=skip,
    survivors=judge_sessions,
)
