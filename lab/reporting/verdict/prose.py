"""The verdict's sentences about one series, written from the classification's findings.

Each function takes what `lab.reporting.verdict.classify` found and says it with the figures
that let a reader judge the margin; none decides anything the classification has not.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from lab.reporting import mission
from lab.reporting.page import change, figure, percent
from lab.reporting.results import Run, Series
from lab.reporting.verdict.classify import (
    BesideBcrypt,
    Bottleneck,
    Limit,
    ScaleOut,
    ScaleReason,
    StoresShare,
    cores,
    lost_to_balancer,
    quota_use,
)

#: The parts outside the instances, as a sentence names them.
COMPONENT_NAMES = {
    "balancer": "the balancer",
    "postgres": "Postgres",
    "redis": "Redis",
    "loadgen": "the load generator",
}


def span(values: Sequence[float], show: Callable[[float], str], unit: str = "") -> str:
    """ "0.93–0.94", or one figure when both ends read the same; the unit once, at the end."""
    low, high = show(min(values)), show(max(values))
    text = low if low == high else f"{low}–{high}"
    return f"{text} {unit}" if unit else text


def _pct(fraction: float) -> str:
    return figure(fraction * 100, 1)


def names(items: Sequence[str]) -> str:
    """ "a", "a and b", "a, b and c"."""
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def bottleneck_text(series: Series, found: Bottleneck, host_cores: int) -> str:
    """ "single and scaled: bcrypt saturated …"."""
    text = _BOTTLENECK_TEXT[found.limit](series, found.runs, host_cores)
    return f"{names(found.topologies)}: {text}"


def _ceiling_share(series: Series, runs: Sequence[Run]) -> str:
    shares = [e for r in runs if (e := series.efficiency_of(r)) is not None]
    return span(shares, figure) + " of the bcrypt ceiling" if shares else "ceiling not measured"


def _text_bcrypt(series: Series, runs: Sequence[Run], host_cores: int) -> str:
    share = _ceiling_share(series, runs)
    if series.cpus_per_instance is None:
        busy = span([r.host.shown_utilisation for r in runs], _pct, "%")
        return (
            f"bcrypt saturated the host's {host_cores} cores ({busy} busy, {share}); "
            "adding instances on the same host cannot add cores."
        )
    used = span([quota_use(series, r, host_cores) or 0.0 for r in runs], _pct, "%")
    return (
        f"bcrypt saturated each instance's {figure(series.cpus_per_instance)} CPU quota "
        f"({used} of the quotas used, {share})."
    )


def _text_cpu(series: Series, runs: Sequence[Run], host_cores: int) -> str:
    busy = span([r.host.shown_utilisation for r in runs], _pct, "%")
    run = runs[0]
    users = {c: s for c, s in run.cpu_seconds.items() if not c.startswith("service")}
    users["the service instances"] = run.service_cpu_seconds
    top = max(users, key=lambda c: users[c])
    share = users[top] / run.host.cpu_seconds_busy if run.host.cpu_seconds_busy else None
    return (
        f"the CPU was saturated ({busy} of the host busy) but throughput reached only "
        f"{_ceiling_share(series, runs)}: CPU went to work other than bcrypt (largest user "
        f"in {run.topology}: {top}, {percent(share)} of the busy CPU)."
    )


def _text_component(name: str, component: str) -> Callable[[Series, Sequence[Run], int], str]:
    def text(series: Series, runs: Sequence[Run], host_cores: int) -> str:
        used = span([cores(r, component) for r in runs], figure)
        per_req = span(
            [r.cpu_seconds.get(component, 0.0) / r.http_reqs * 1e6 for r in runs if r.http_reqs],
            lambda v: figure(v, 0),
        )
        return (
            f"{name} was the bottleneck: it used {used} cores ({per_req} µs of CPU per request) "
            f"while reaching {_ceiling_share(series, runs)}."
        )

    return text


def _text_balancer(series: Series, runs: Sequence[Run], host_cores: int) -> str:
    text = _text_component("the balancer's one event loop", "balancer")(series, runs, host_cores)
    alone = series.medians().get("single")
    if all(cores(r, "balancer") >= mission.ONE_CORE for r in runs) or alone is None:
        return text
    lost = [r for r in runs if lost_to_balancer(r, alone)]
    return (
        f"the balancer was the bottleneck without saturating its core (it used "
        f"{span([cores(r, 'balancer') for r in runs], figure)} cores): one instance behind "
        f"it did {change(alone.req_per_s, lost[0].req_per_s if lost else runs[0].req_per_s)} "
        "req/s against the same instance alone, so requests waited in it."
    )


def _text_loadgen(series: Series, runs: Sequence[Run], host_cores: int) -> str:
    warnings = sorted({w for r in runs for w in r.loadgen_warnings})
    used = span([cores(r, "loadgen") for r in runs], figure)
    said = f"; it warned: {'; '.join(warnings)}" if warnings else ""
    return f"the load generator limited the offered load (it used {used} cores{said})."


def _text_unsaturated(series: Series, runs: Sequence[Run], host_cores: int) -> str:
    busy = span([r.host.shown_utilisation for r in runs], _pct, "%")
    return (
        f"nothing saturated ({busy} of the host busy, {_ceiling_share(series, runs)}): "
        f"{series.vus} VUs did not offer enough load, or requests waited on something "
        "other than CPU."
    )


_BOTTLENECK_TEXT: dict[Limit, Callable[[Series, Sequence[Run], int], str]] = {
    "bcrypt": _text_bcrypt,
    "cpu": _text_cpu,
    "balancer": _text_balancer,
    "postgres": _text_component("Postgres", "postgres"),
    "redis": _text_component("Redis (single-threaded)", "redis"),
    "loadgen": _text_loadgen,
    "unsaturated": _text_unsaturated,
}


def scale_out_text(series: Series, found: ScaleOut) -> str:
    one, more = found.one, found.more
    text = (
        f"{more.instances} instances did {figure(found.ratio)}× the req/s of {one.instances} "
        f"({figure(one.req_per_s)} → {figure(more.req_per_s)} req/s, "
        f"{percent(found.linear)} of linear). "
    )
    return text + _SCALE_REASON_TEXT[found.reason](series, found)


def _growth(found: ScaleOut) -> str:
    before, after = found.cores_before or 0.0, found.cores_after or 0.0
    return f"Usable cores grew {figure(before)} → {figure(after)} ({figure(after / before)}×)"


_SCALE_REASON_TEXT: dict[ScaleReason, Callable[[Series, ScaleOut], str]] = {
    ScaleReason.OUTSIDE: lambda series, found: (
        f"The {found.more.instances} instances were not the limit: "
        f"{COMPONENT_NAMES[found.limit]} was (see above)."
    ),
    ScaleReason.FOLLOWED_CORES: lambda series, found: (
        f"{_growth(found)} and throughput followed them: each instance brought its own CPU."
    ),
    ScaleReason.CORES_NOT_THE_LIMIT: lambda series, found: (
        f"{_growth(found)} but throughput only {figure(found.ratio)}×: the added cores were not "
        f"what limited it (scaled was limited by: {found.limit})."
    ),
    ScaleReason.NO_CAPACITY: lambda series, found: (
        f"All instances shared the same {figure(found.cores_before)} cores, which one instance "
        "had already saturated, so there was no capacity to add."
    ),
    ScaleReason.UNUSED_CORES: lambda series, found: (
        f"The instances shared the same {figure(found.cores_before)} cores, so the gain did not "
        "come from CPU: one instance alone had left the host's cores partly unused "
        f"(efficiency {figure(series.efficiency_of(found.one) or 0.0)})."
    ),
    ScaleReason.SHARED: lambda series, found: (
        f"The instances shared the same {figure(found.cores_before)} cores."
    ),
}


def balancer_cost_text(single: Run, behind: Run) -> str:
    """What the balancer in front of one instance changed, and the CPU it used."""
    text = (
        f"the balancer in front of one instance changed req/s by "
        f"{change(single.req_per_s, behind.req_per_s)} "
        f"({figure(single.req_per_s)} → {figure(behind.req_per_s)})"
    )
    seconds = behind.cpu_seconds.get("balancer")
    if seconds is None or not behind.http_reqs:
        return text + "; its CPU was not measured."
    share = cores(behind, "balancer")
    # At tens of requests per second its fixed costs (health checks, timers, wake-ups)
    # would dominate a per-request figure, so the share of a core is the one to read.
    return text + (
        f"; it used {percent(share)} of one core ({figure(seconds)} CPU-s over the "
        "window), most of it fixed background work (health checks, timers, wake-ups) "
        "rather than work per request at this rate; its cost per request is measured "
        "at load by `make bench-proxy`."
    )


def beside_bcrypt_text(found: BesideBcrypt) -> str:
    busy, bcrypt_s, service_s = found.busy_s, found.bcrypt_s, found.service_s
    return (
        f"in single, bcrypt accounts for {figure(bcrypt_s)} of the {figure(busy)} busy CPU-s "
        f"({percent(bcrypt_s / busy)}); the service's own work around it (HTTP, JWTs, "
        f"Postgres and Redis calls, handing hashes to threads) cost "
        f"{figure(found.own_ms_per_iteration, 1)} ms of CPU per iteration "
        f"({percent((service_s - bcrypt_s) / busy)}), everything else "
        f"{percent((busy - service_s) / busy)}: that, not Postgres or Redis, is what separates "
        "the measured throughput from the bcrypt ceiling."
    )


def stores_text(found: StoresShare) -> str:
    run = found.run
    return (
        f"Postgres and Redis used {figure(found.postgres_s)} and {figure(found.redis_s)} CPU-s "
        f"of {figure(run.host.cpu_seconds_busy)} busy in {run.topology} ({percent(found.share)}): "
        "the shared database and Redis did not limit throughput."
    )
