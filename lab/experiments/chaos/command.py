"""`python -m lab chaos`: fault scenarios under load through the balancer, each with a verdict.

Every scenario starts a fresh topology (N instances behind the balancer) on one shared
PostgreSQL + Redis, runs the chaos client (:mod:`lab.experiments.chaos.load`) for a bounded time,
injects its fault, then checks what the clients saw and what the stores hold
(:mod:`lab.experiments.chaos.integrity`) and prints PASS or FAIL with its figures:

``kill``      SIGKILL one instance mid-run: only requests in flight on it fail, nothing fails
              once the balancer has ejected it, no POST is replayed; time to eject.
``rolling``   rolling restart (:mod:`lab.experiments.rolling`): zero failed requests.
``redis``     Redis stopped and started again: 503 while it is down (no hang, no 500), serving
              again within the recovery bound of its return; sessions opened before survive
              when Redis persists (AOF). The trade-off: the append-only file costs a write
              per session change and an fsync a second, and a crash (not a clean stop) can
              still lose the last second; without it a restart loses every session and every
              user must log in again (``--no-redis-persistence`` shows it: 0 survive). The
              deny-list goes with the sessions, which is harmless: a deny-listed token's
              session is gone too, so the token is refused either way.
``postgres``  the same for PostgreSQL; the connection pools reconnect, users survive.
``overload``  thousands of users against small ``--maxconn/--maxqueue`` bounds: the balancer
              queues up to them and answers 503 + Retry-After beyond; no 500, nothing slower
              than the configured timeouts, memory of every process bounded.

Peak RSS of every process is sampled (psutil) in every scenario.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import psutil

from authscale.argparsing import ArgumentParser
from lab import flags
from lab.errors import LabError
from lab.experiments import rolling
from lab.experiments.chaos import integrity
from lab.experiments.chaos.load import (
    NEEDS_POSTGRES,
    NEEDS_REDIS,
    REFRESH,
    SIGNUP,
    ChaosClient,
    ChaosLoadConfig,
    ChaosRecord,
    Outcome,
)
from lab.flags import duration
from lab.harness import config, infra
from lab.harness.signals import interrupt_on_sigterm
from lab.harness.topology import (
    LOOPBACK_CIDRS,
    Topology,
    TopologyConfig,
    add_exemption_flag,
    describe_exemption,
    limit_exemption,
)

SCENARIOS = ("kill", "rolling", "redis", "postgres", "overload")
TITLES = {
    "kill": "SIGKILL one instance mid-run",
    "rolling": "rolling restart, one instance at a time",
    "redis": "Redis restarted mid-run",
    "postgres": "PostgreSQL restarted mid-run",
    "overload": "overload against bounded queues",
}
MIB = 1024 * 1024


@dataclass(frozen=True, kw_only=True)
class ChaosOptions:
    scenarios: tuple[str, ...] = SCENARIOS
    run_dir: Path
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
        unknown = set(self.scenarios) - set(SCENARIOS)
        if unknown:
            raise ValueError(f"unknown scenarios {sorted(unknown)}; choose from {SCENARIOS}")
        if self.instances < 2:
            raise ValueError("the scenarios need at least two instances")
        if self.duration_s <= 0 or self.vus < 1 or self.overload_vus < 1:
            raise ValueError("duration and VUs must be positive")

    @property
    def fault_at(self) -> float:
        return self.fault_at_s if self.fault_at_s is not None else self.duration_s / 3


@dataclass
class Verdict:
    scenario: str
    checks: list[tuple[str, bool]] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)
    skipped: str | None = None

    @property
    def passed(self) -> bool:
        return self.skipped is None and all(ok for _, ok in self.checks)

    def check(self, what: str, ok: bool) -> None:
        self.checks.append((what, ok))

    def lines(self) -> list[str]:
        head = f"== {self.scenario}: {TITLES[self.scenario]} =="
        if self.skipped:
            return [head, f"SKIP {self.scenario}: {self.skipped}"]
        out = [head]
        out += [f"  {name}: {_show(value)}" for name, value in self.figures.items()]
        out += [f"  [{'ok' if ok else 'FAIL'}] {what}" for what, ok in self.checks]
        out.append(f"{'PASS' if self.passed else 'FAIL'} {self.scenario}")
        return out


def _show(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3f}"
    if isinstance(value, dict):
        return ", ".join(f"{k} {_show(v)}" for k, v in value.items()) or "none"
    return str(value)


# ------------------------------------------------------------------------------ measurement


def tree_footprint(members: list[psutil.Process]) -> int:
    """Resident memory of a process tree that shares memory (PostgreSQL's shared buffers):
    each process's private part, plus the largest shared part once."""
    private = shared = 0
    for member in members:
        with contextlib.suppress(psutil.Error):
            info = member.memory_info()
            private += info.rss - info.shared
            shared = max(shared, info.shared)
    return private + shared


class RssSampler:
    """Peak resident memory of named processes (postgres: the server and its children)."""

    def __init__(self, pids: Callable[[], dict[str, int]], every_s: float = 0.25) -> None:
        self.pids = pids
        self.every_s = every_s
        self.peak: dict[str, int] = {}

    def sample(self) -> None:
        for name, pid in self.pids().items():
            try:
                root = psutil.Process(pid)
                if name == "postgres":
                    rss = tree_footprint([root, *root.children(recursive=True)])
                else:
                    rss = root.memory_info().rss
            except psutil.Error:
                continue
            self.peak[name] = max(self.peak.get(name, 0), rss)

    async def run(self) -> None:
        while True:
            self.sample()
            await asyncio.sleep(self.every_s)

    def peak_mib(self) -> dict[str, float]:
        return {name: round(rss / MIB, 1) for name, rss in sorted(self.peak.items())}


@dataclass
class Run:
    """One scenario's running parts and the moments (event-loop clock) of its events."""

    options: ChaosOptions
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


def _count(row: dict[str, object], name: str) -> int:
    value = row.get(name, 0)
    return value if isinstance(value, int) else 0


def failures_between(record: ChaosRecord, start: float, end: float) -> list[Outcome]:
    return [o for o in record.failures() if start <= o.started < end]


def max_elapsed(outcomes: list[Outcome]) -> float:
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


def common_figures(verdict: Verdict, record: ChaosRecord) -> None:
    span = max(record.ended_at - record.started_at, 1e-9)
    verdict.figures["requests"] = len(record.outcomes)
    verdict.figures["iterations ok/s"] = round(record.iterations_ok / span, 1)
    verdict.figures["failed requests"] = len(record.failures())
    verdict.figures["failed by status"] = record.failures_by_status()


# ----------------------------------------------------------------------------- the scenarios


async def fault_kill(run: Run, verdict: Verdict) -> None:
    topology, loop = run.topology, asyncio.get_running_loop()
    victim = topology.instances[1]
    await run.until(run.options.fault_at)
    rows = await asyncio.to_thread(topology.backends)
    row = next(r for r in rows if r.get("url") == victim.url)
    verdict.figures["in flight on the victim just before"] = _count(row, "active")
    assert victim.proc is not None
    os.killpg(victim.proc.pid, signal.SIGKILL)
    run.mark("kill")
    await asyncio.to_thread(topology.kill_instance, 1)
    while loop.time() - run.events["kill"] < 15:
        rows = await asyncio.to_thread(topology.backends)
        if any(r.get("url") == victim.url and r.get("state") != "up" for r in rows):
            run.mark("ejected")
            break
        await asyncio.sleep(0.02)
    await run.until(run.options.duration_s)


def judge_kill(run: Run, record: ChaosRecord, verdict: Verdict) -> None:
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


async def fault_rolling(run: Run, verdict: Verdict) -> None:
    topology = run.topology
    await run.until(run.options.fault_at)
    assert topology.admin_url is not None
    cfg = rolling.RollingConfig(admin_url=topology.admin_url, admin_token=topology.admin_token)
    run.mark("rolling")
    steps = await asyncio.to_thread(rolling.rolling_restart, cfg, TopologyRestarter(topology))
    run.mark("rolled")
    verdict.figures["restarts"] = len(steps)
    verdict.figures["rolling restart s"] = round(run.events["rolled"] - run.events["rolling"], 2)
    verdict.figures["slowest step"] = max(steps, key=lambda s: s.total_s).describe()
    await asyncio.sleep(2.0)
    await run.until(run.options.duration_s)


def judge_rolling(run: Run, record: ChaosRecord, verdict: Verdict) -> None:
    verdict.check(
        "every instance was restarted",
        verdict.figures.get("restarts") == len(run.topology.instances),
    )
    verdict.check("zero failed requests", not record.failures())
    verdict.check("no POST was replayed", not replays(record))


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


def store_fault(store: str) -> Callable[[Run, Verdict], Awaitable[None]]:
    async def fault(run: Run, verdict: Verdict) -> None:
        server = run.infra.redis if store == "redis" else run.infra.postgres
        assert server is not None
        await run.until(run.options.fault_at)
        run.mark("down")
        await asyncio.to_thread(server.stop)
        run.mark("stopped")
        await asyncio.sleep(run.options.outage_s)
        run.mark("restarting")
        await asyncio.get_running_loop().run_in_executor(run.server_thread, server.start)
        run.mark("up")
        verdict.figures[f"{store} down s"] = round(run.events["up"] - run.events["down"], 2)
        await run.until(
            max(run.options.duration_s, run.at("up") + 2 * run.options.recovery_bound_s)
        )

    return fault


def judge_store(store: str) -> Callable[[Run, ChaosRecord, Verdict], None]:
    needs = NEEDS_REDIS if store == "redis" else NEEDS_POSTGRES

    def judge(run: Run, record: ChaosRecord, verdict: Verdict) -> None:
        down, up = run.events["down"], run.events["up"]
        bound = run.options.recovery_bound_s
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
            f"no request took over {run.options.hang_bound_s:.0f} s while it was down (no hang)",
            max_elapsed(during) <= run.options.hang_bound_s,
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


async def fault_overload(run: Run, verdict: Verdict) -> None:
    topology, loop = run.topology, asyncio.get_running_loop()
    peak_active = peak_queued = 0
    while loop.time() - run.events["load"] < run.options.duration_s:
        for row in await asyncio.to_thread(topology.backends):
            peak_active = max(peak_active, _count(row, "active"))
            peak_queued = max(peak_queued, _count(row, "queued"))
        await asyncio.sleep(0.2)
    verdict.figures["peak active per backend"] = peak_active
    verdict.figures["peak queued per backend"] = peak_queued


def judge_overload(run: Run, record: ChaosRecord, verdict: Verdict) -> None:
    o = run.options
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


FAULTS: dict[str, Callable[[Run, Verdict], Awaitable[None]]] = {
    "kill": fault_kill,
    "rolling": fault_rolling,
    "redis": store_fault("redis"),
    "postgres": store_fault("postgres"),
    "overload": fault_overload,
}
JUDGES: dict[str, Callable[[Run, ChaosRecord, Verdict], None]] = {
    "kill": judge_kill,
    "rolling": judge_rolling,
    "redis": judge_store("redis"),
    "postgres": judge_store("postgres"),
    "overload": judge_overload,
}


# ------------------------------------------------------------------------------- survivors


async def open_survivors(target: str, prefix: str, count: int) -> list[tuple[str, str]]:
    """Sign up and log in ``count`` users before the fault: (address, refresh token)."""
    made: list[tuple[str, str]] = []
    async with aiohttp.ClientSession() as session:
        for n in range(count):
            email = f"{prefix}survivor-{n}@example.com"
            body = {"email": email, "password": f"survivor password {n} {prefix}"}
            async with session.post(f"{target}/auth/signup", json=body) as reply:
                if reply.status != 201:
                    raise LabError(f"survivor signup answered {reply.status}")
            async with session.post(f"{target}/auth/login", json=body) as reply:
                if reply.status != 200:
                    raise LabError(f"survivor login answered {reply.status}")
                made.append((email, (await reply.json())["refresh_token"]))
    return made


async def survivors_alive(target: str, survivors: list[tuple[str, str]], step: str) -> int:
    """How many survivors' sessions still refresh (``step="refresh"``) or who can still log
    in (``step="login"``)."""
    alive = 0
    async with aiohttp.ClientSession() as session:
        for n, (email, refresh_token) in enumerate(survivors):
            prefix = email.partition("survivor-")[0]
            if step == "refresh":
                body: dict[str, str] = {"refresh_token": refresh_token}
            else:
                body = {"email": email, "password": f"survivor password {n} {prefix}"}
            async with session.post(f"{target}/auth/{step}", json=body) as reply:
                alive += reply.status == 200
    return alive


# ---------------------------------------------------------------------------------- driver


def topology_for(name: str, options: ChaosOptions, running: infra.Infra) -> Topology:
    args: tuple[str, ...] = ()
    if name == "overload":
        args = (
            "--maxconn",
            str(options.maxconn),
            "--maxqueue",
            str(options.maxqueue),
            "--queue-timeout",
            str(options.queue_timeout_s),
            "--server-timeout",
            str(options.server_timeout_s),
        )
    return Topology(
        TopologyConfig(
            instances=options.instances,
            balancer=True,
            database_url=running.database_url,
            redis_url=running.redis_url,
            run_dir=options.run_dir / name,
            bcrypt_rounds=options.bcrypt_rounds,
            balancer_args=args,
            health_interval=options.health_interval,
            limit_exempt=options.limit_exempt,
        )
    )


def skip_reason(name: str, running: infra.Infra) -> str | None:
    if name == "redis" and running.redis is None:
        return "Redis is external (REDIS_URL): the lab cannot restart it"
    if name == "postgres" and running.postgres is None:
        return "PostgreSQL is external (DATABASE_URL): the lab cannot restart it"
    return None


async def run_scenario(
    name: str, options: ChaosOptions, running: infra.Infra, *, server_thread: Executor
) -> Verdict:
    """Run one scenario on a fresh topology and return its verdict. ``server_thread`` (one
    worker) restarts the stores and must outlive them (see :class:`Run`)."""
    verdict = Verdict(name)
    verdict.skipped = skip_reason(name, running)
    if verdict.skipped:
        return verdict
    topology = topology_for(name, options, running)
    await asyncio.to_thread(topology.start)
    try:
        load = ChaosLoadConfig(
            target=topology.entry_url,
            vus=options.overload_vus if name == "overload" else options.vus,
            duration_s=3600.0,
            request_timeout_s=options.request_timeout_s,
        )
        client = ChaosClient(load)
        run = Run(options, running, topology, client, server_thread)
        survivors: list[tuple[str, str]] = []
        if name in ("redis", "postgres"):
            prefix = load.address_prefix
            survivors = await open_survivors(topology.entry_url, prefix, options.survivors)
            client.record.signups.update({email: 201 for email, _ in survivors})
        sampler = RssSampler(
            lambda: {
                **running.component_pids(),
                **topology.component_pids(),
                "chaos client": os.getpid(),
            }
        )
        sampling = asyncio.create_task(sampler.run())
        running_load = asyncio.create_task(client.run())
        run.mark("load")
        try:
            await FAULTS[name](run, verdict)
        finally:
            client.stop.set()
            record = await running_load
            sampling.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sampling
        common_figures(verdict, record)
        verdict.figures.update({f"{event} at s": run.at(event) for event in run.events})
        JUDGES[name](run, record, verdict)
        await judge_survivors(name, topology.entry_url, survivors, running, verdict)
        report = await integrity.check(
            database_url=running.database_url,
            redis_url=running.redis_url,
            address_prefix=load.address_prefix,
            signups=record.signups,
            ended_sessions=record.ended_sessions(),
        )
        verdict.figures["integrity"] = report.summary()
        verdict.figures["peak RSS MiB"] = sampler.peak_mib()
        verdict.check(
            "data integrity: " + ("; ".join(report.problems()) or "no lost or duplicated rows"),
            report.ok,
        )
        limit = options.rss_limit_mib
        verdict.check(
            f"peak RSS of every process under {limit:.0f} MiB",
            all(mib <= limit for mib in sampler.peak_mib().values()),
        )
    finally:
        await asyncio.to_thread(topology.stop)
    return verdict


async def judge_survivors(
    name: str,
    target: str,
    survivors: list[tuple[str, str]],
    running: infra.Infra,
    verdict: Verdict,
) -> None:
    if not survivors:
        return
    if name == "postgres":
        alive = await survivors_alive(target, survivors, "login")
        verdict.figures["users from before who can log in"] = f"{alive}/{len(survivors)}"
        verdict.check("users created before the restart can log in", alive == len(survivors))
        return
    alive = await survivors_alive(target, survivors, "refresh")
    verdict.figures["sessions from before that survived"] = f"{alive}/{len(survivors)}"
    persistent = running.redis is not None and running.redis.persistence
    if persistent:
        verdict.check("sessions opened before survive (AOF on)", alive == len(survivors))
    else:
        verdict.figures["note"] = "Redis persistence is off: sessions are lost on restart"


async def run_all(
    options: ChaosOptions, running: infra.Infra, server_thread: Executor
) -> list[Verdict]:
    verdicts = []
    for name in options.scenarios:
        verdict = await run_scenario(name, options, running, server_thread=server_thread)
        for line in verdict.lines():
            print(line, flush=True)
        verdicts.append(verdict)
    return verdicts


def parser(prog: str = "python -m lab chaos") -> argparse.ArgumentParser:
    p = ArgumentParser(
        prog=prog,
        description="Fault scenarios under load through the balancer, each with a verdict.",
    )
    add = p.add_argument
    add("--scenarios", default=",".join(SCENARIOS), help=f"comma list of {', '.join(SCENARIOS)}")
    add("--vus", type=int, default=200, help="virtual users (200)")
    add("--overload-vus", type=int, default=2000, help="virtual users of overload (2000)")
    add("--duration", type=duration, default=20.0, help="load per scenario (20s)")
    add("--outage", type=duration, default=3.0, help="how long a store stays down (3s)")
    add(
        "--bcrypt-rounds",
        type=flags.bcrypt_cost,
        default=4,
        help="bcrypt cost (4, so load is high)",
    )
    add("--instances", type=int, default=3, help="service instances (3)")
    add("--maxconn", type=int, default=8, help="overload: balancer maxconn per backend (8)")
    add("--maxqueue", type=int, default=16, help="overload: balancer queue per backend (16)")
    add("--queue-timeout", type=float, default=1.0, help="overload: queue timeout s (1)")
    add("--no-redis-persistence", action="store_true", help="run Redis without its AOF")
    add_exemption_flag(p)
    add("--json", type=Path, help="also write the verdicts here (always: <logs>/verdicts.json)")
    return p


def main(argv: list[str], prog: str = "python -m lab chaos") -> int:
    cli = parser(prog)
    args = cli.parse_args(argv)
    interrupt_on_sigterm()
    root = config.state_root()
    run_dir = root / "runs" / time.strftime("chaos-%Y%m%d-%H%M%S")
    try:
        options = ChaosOptions(
            scenarios=tuple(s.strip() for s in args.scenarios.split(",") if s.strip()),
            run_dir=run_dir,
            instances=args.instances,
            vus=args.vus,
            overload_vus=args.overload_vus,
            duration_s=args.duration,
            outage_s=args.outage,
            bcrypt_rounds=args.bcrypt_rounds,
            maxconn=args.maxconn,
            maxqueue=args.maxqueue,
            queue_timeout_s=args.queue_timeout,
            limit_exempt=limit_exemption(not args.no_limit_exemption),
        )
    except ValueError as exc:  # options that parse but make no sense together
        cli.error(str(exc))
    print(describe_exemption(options.limit_exempt), file=sys.stderr)
    cfg = config.infra_config(
        state_dir=root / "chaos-infra", redis_persistence=not args.no_redis_persistence
    )
    server_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="chaos-servers")
    try:
        with infra.start(cfg) as running:
            verdicts = asyncio.run(run_all(options, running, server_thread))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except LabError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        server_thread.shutdown(wait=False)
    document = json.dumps([asdict(v) for v in verdicts], indent=2, default=str)
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "verdicts.json").write_text(document)
    if args.json:
        args.json.write_text(document)
    failed = [v.scenario for v in verdicts if not v.skipped and not v.passed]
    print(f"chaos: {len(verdicts) - len(failed)}/{len(verdicts)} passed; logs in {run_dir}")
    return 1 if failed else 0
