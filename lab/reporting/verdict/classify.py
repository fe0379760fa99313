"""What limited throughput, by how much, and what scale-out bought: measurements in, typed
findings out, no sentences.

Each run (the median of its repeats) is classified by the first of these that holds (the
thresholds are in `lab.reporting.mission`):

    loadgen      the load generator warned, or used ≥ ONE_CORE of CPU
    balancer     the balancer (one event loop) used ≥ ONE_CORE, or one instance behind it
                 did < BALANCER_KEEPS of the req/s it did alone
    postgres     Postgres used ≥ ONE_CORE, or ≥ INFRA_SHARE of the busy CPU
    redis        Redis (single-threaded) used ≥ ONE_CORE, or ≥ INFRA_SHARE of the busy CPU
    bcrypt       ≥ NEAR_CEILING of the bcrypt ceiling with the usable cores saturated
    cpu          the usable cores saturated, but not by bcrypt alone
    unsaturated  nothing above: offered load or waiting set the pace

The usable cores are saturated when the host is ≥ SATURATED busy (no CPU limits) or the
instances used ≥ SATURATED of their quotas.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from lab.reporting import mission
from lab.reporting.results import Results, Run, Series, StepTime

Limit = Literal["loadgen", "balancer", "postgres", "redis", "bcrypt", "cpu", "unsaturated"]
#: Limits outside the service instances: adding instances cannot lift them.
OUTSIDE_INSTANCES: frozenset[Limit] = frozenset({"balancer", "postgres", "redis", "loadgen"})
#: Limits of the instances' own cores.
CORE_BOUND: frozenset[Limit] = frozenset({"bcrypt", "cpu"})


def cores(run: Run, component: str) -> float:
    """Average cores a component used over the window."""
    return run.cpu_seconds.get(component, 0.0) / run.window_s if run.window_s else 0.0


def quota_use(series: Series, run: Run, host_cores: int | None = None) -> float | None:
    """Share of their CPU quotas the instances used (None without per-instance limits)."""
    usable = series.usable_cores_for(run, host_cores)
    if series.cpus_per_instance is None or not usable or not run.window_s:
        return None
    return run.service_cpu_seconds / run.window_s / usable


def compared(medians: Mapping[str, Run]) -> tuple[str, str] | None:
    """The two topologies scale-out is judged on: `single` (else the fewest instances) and
    `scaled` (else the most), or None when there is no pair with more instances."""
    if not medians:
        return None
    by_size = sorted(medians, key=lambda t: medians[t].instances)
    base = "single" if "single" in medians else by_size[0]
    target = "scaled" if "scaled" in medians else by_size[-1]
    if medians[target].instances <= medians[base].instances:
        return None
    return base, target


def classify(
    series: Series, run: Run, host_cores: int | None = None, *, alone: Run | None = None
) -> Limit:
    """What limited `run`; `alone` is the same instances without the balancer, if measured."""
    if run.loadgen_warnings or cores(run, "loadgen") >= mission.ONE_CORE:
        return "loadgen"
    if cores(run, "balancer") >= mission.ONE_CORE or lost_to_balancer(run, alone):
        return "balancer"
    stores: tuple[Literal["postgres", "redis"], ...] = ("postgres", "redis")
    for store in stores:
        share = run.cpu_seconds.get(store, 0.0) / (run.host.cpu_seconds_busy or math.inf)
        if cores(run, store) >= mission.ONE_CORE or share >= mission.INFRA_SHARE:
            return store
    used = quota_use(series, run, host_cores)
    busy = run.host.utilisation if used is None else used
    if busy >= mission.SATURATED:
        efficiency = series.efficiency_of(run)
        near = efficiency is not None and efficiency >= mission.NEAR_CEILING
        return "bcrypt" if near else "cpu"
    return "unsaturated"


def lost_to_balancer(run: Run, alone: Run | None) -> bool:
    """Whether one instance behind the balancer did much less than the same instance alone."""
    if alone is None or alone is run or not run.balancer or alone.balancer:
        return False
    same = alone.instances == run.instances
    return same and run.req_per_s < mission.BALANCER_KEEPS * alone.req_per_s


@dataclass(frozen=True, kw_only=True)
class Bottleneck:
    """The topologies of a series one limit held back, in the order measured."""

    limit: Limit
    topologies: tuple[str, ...]
    runs: tuple[Run, ...]


def bottlenecks(series: Series, medians: Mapping[str, Run], host_cores: int) -> list[Bottleneck]:
    """The series' topologies grouped by what limited them, in order of first appearance."""
    groups: dict[Limit, list[str]] = {}
    for topology, run in medians.items():
        limit = classify(series, run, host_cores, alone=medians.get("single"))
        groups.setdefault(limit, []).append(topology)
    return [
        Bottleneck(limit=limit, topologies=tuple(names), runs=tuple(medians[t] for t in names))
        for limit, names in groups.items()
    ]


class ScaleReason(enum.Enum):
    """Why scale-out bought what it did."""

    #: Something outside the instances (balancer, a store, the load generator) held it back.
    OUTSIDE = "outside"
    #: Each instance brought its own cores and throughput grew with them.
    FOLLOWED_CORES = "followed-cores"
    #: The usable cores grew but throughput did not follow them.
    CORES_NOT_THE_LIMIT = "cores-not-the-limit"
    #: The instances shared cores that one instance had already saturated.
    NO_CAPACITY = "no-capacity"
    #: The instances shared the same cores, yet throughput grew: one had left them unused.
    UNUSED_CORES = "unused-cores"
    #: The instances shared the same cores; nothing more to say.
    SHARED = "shared"


@dataclass(frozen=True, kw_only=True)
class ScaleOut:
    """One series' scale-out: `more` instances against `one`, and why it bought what it did."""

    one: Run
    more: Run
    #: req/s of `more` ÷ req/s of `one`, and that ratio ÷ the ratio of instances.
    ratio: float
    linear: float
    cores_before: float | None
    cores_after: float | None
    #: What limited `more`.
    limit: Limit
    reason: ScaleReason


def scale_out(series: Series, medians: Mapping[str, Run], host_cores: int) -> ScaleOut | None:
    """What the series' most instances bought over the fewest, or None without such a pair."""
    pair = compared(medians)
    if pair is None or not medians[pair[0]].req_per_s:
        return None
    one, more = medians[pair[0]], medians[pair[1]]
    ratio = more.req_per_s / one.req_per_s
    before = series.usable_cores_for(one, host_cores)
    after = series.usable_cores_for(more, host_cores)
    limit = classify(series, more, host_cores)
    return ScaleOut(
        one=one,
        more=more,
        ratio=ratio,
        linear=ratio / (more.instances / one.instances),
        cores_before=before,
        cores_after=after,
        limit=limit,
        reason=_scale_reason(series, one, ratio, (before, after), limit, host_cores),
    )


def _scale_reason(
    series: Series,
    one: Run,
    ratio: float,
    usable: tuple[float | None, float | None],
    limit: Limit,
    host_cores: int,
) -> ScaleReason:
    before, after = usable
    if limit in OUTSIDE_INSTANCES:
        return ScaleReason.OUTSIDE
    if before and after and after / before >= mission.CORES_GREW:
        followed = ratio >= mission.FOLLOWED_CORES * (after / before)
        return ScaleReason.FOLLOWED_CORES if followed else ScaleReason.CORES_NOT_THE_LIMIT
    if ratio <= mission.GAINED and classify(series, one, host_cores) in CORE_BOUND:
        return ScaleReason.NO_CAPACITY
    if ratio > mission.GAINED:
        return ScaleReason.UNUSED_CORES
    return ScaleReason.SHARED


@dataclass(frozen=True, kw_only=True)
class StoresShare:
    """Postgres' and Redis' CPU in one run, and their share of the busy CPU."""

    run: Run
    postgres_s: float
    redis_s: float
    share: float


def negligible_stores(
    series: Series, medians: Mapping[str, Run], host_cores: int
) -> StoresShare | None:
    """Postgres and Redis in `scaled` (else the first topology) when their CPU was negligible
    and neither limited it; None otherwise."""
    run = medians.get("scaled") or next(iter(medians.values()), None)
    if run is None or not run.host.cpu_seconds_busy:
        return None
    postgres, redis = run.cpu_seconds.get("postgres", 0.0), run.cpu_seconds.get("redis", 0.0)
    share = (postgres + redis) / run.host.cpu_seconds_busy
    if share >= mission.INFRA_NEGLIGIBLE:
        return None
    if classify(series, run, host_cores) in ("postgres", "redis"):
        return None
    return StoresShare(run=run, postgres_s=postgres, redis_s=redis, share=share)


@dataclass(frozen=True, kw_only=True)
class BesideBcrypt:
    """Where the busy CPU of `single` went: bcrypt, the service's own work, everything else."""

    busy_s: float
    bcrypt_s: float
    service_s: float
    iterations: int

    @property
    def own_ms_per_iteration(self) -> float:
        return (self.service_s - self.bcrypt_s) / self.iterations * 1000


def beside_bcrypt(
    results: Results, series: Series, medians: Mapping[str, Run]
) -> BesideBcrypt | None:
    """What keeps efficiency below 1 in `single` on the shared host, when the ceiling is known."""
    run = medians.get("single")
    ceiling = results.ceiling
    # Under a quota the host's idle cores would blur the shares; the shared host is where
    # efficiency is judged.
    if series.cpus_per_instance is not None or run is None or ceiling is None:
        return None
    if not run.iterations or not run.host.cpu_seconds_busy:
        return None
    bcrypt_s = run.iterations * (ceiling.hash_ms + ceiling.verify_ms) / 1000
    service_s = run.service_cpu_seconds
    if not service_s or bcrypt_s > service_s:
        return None
    return BesideBcrypt(
        busy_s=run.host.cpu_seconds_busy,
        bcrypt_s=bcrypt_s,
        service_s=service_s,
        iterations=run.iterations,
    )


class StoresOnLatency(enum.Enum):
    """What Postgres and Redis were on latency, by their share of an iteration's request time."""

    #: At or above STORES_LIMIT: a large part of it, as the original suspected.
    LARGE = "large"
    #: Between STORES_NEGLIGIBLE and STORES_LIMIT.
    NOTICEABLE = "noticeable"
    #: Below STORES_NEGLIGIBLE.
    NEGLIGIBLE = "negligible"


@dataclass(frozen=True, kw_only=True)
class TimedStep:
    """Where the time went in one run: the step that waited (`name`, `step`), and Postgres +
    Redis over a whole iteration's steps against the time the iteration spent in requests."""

    run: Run
    name: str
    step: StepTime
    stores_ms: float
    requests_ms: float

    @property
    def stores_share(self) -> float:
        return self.stores_ms / self.requests_ms if self.requests_ms > 0 else 0.0

    @property
    def stores_on_latency(self) -> StoresOnLatency:
        if self.stores_share >= mission.STORES_LIMIT:
            return StoresOnLatency.LARGE
        if self.stores_share >= mission.STORES_NEGLIGIBLE:
            return StoresOnLatency.NOTICEABLE
        return StoresOnLatency.NEGLIGIBLE

    @property
    def queued_for_bcrypt(self) -> bool:
        """Most of the step's time went to waiting for a hashing thread, next to nothing to
        Postgres and Redis."""
        waiting = self.step.share("hash_wait") or 0.0
        return waiting >= mission.MOSTLY_WAITING and self.stores_share < mission.STORES_NEGLIGIBLE


def timed_step(series: Series) -> TimedStep | None:
    """In `single` when it has timings, else the first topology that has them (medians of
    repeats): login, the step the issue asks about, else the step that waited longest; None
    without timings."""
    medians = {t: r for t, r in series.medians().items() if r.where_the_time_went}
    run = medians.get("single") or next(iter(medians.values()), None)
    if run is None:
        return None
    steps = run.where_the_time_went
    if "login" in steps:
        name = "login"
    else:
        name = max(steps, key=lambda s: steps[s].segments_ms.get("hash_wait", 0.0))
    stores = sum(
        s.segments_ms.get("db", 0.0) + s.segments_ms.get("redis", 0.0) for s in steps.values()
    )
    return TimedStep(
        run=run,
        name=name,
        step=steps[name],
        stores_ms=stores,
        requests_ms=sum(s.duration_ms for s in steps.values()),
    )


def succeeded(run: Run) -> bool:
    """Every check passed, no request failed, no iteration failed."""
    return (
        run.checks_rate >= mission.SUCCESS
        and run.http_req_failed_rate == 0
        and not run.iterations_failed
    )


def failed_runs(results: Results) -> list[tuple[Series, Run]]:
    return [(s, r) for s in results.series for r in s.runs if not succeeded(r)]


def unsound_runs(results: Results) -> list[tuple[Series, Run, tuple[str, ...]]]:
    """Runs that are not sound measurements, with the reasons recorded (possibly none)."""
    out = []
    for s in results.series:
        for r in s.runs:
            reasons = s.unsound_reasons_of(r)
            if not r.sound or reasons:
                out.append((s, r, reasons))
    return out
