"""The verdict: what limited throughput, by how much, and what scale-out bought — from the data.

Each run (the median of its repeats) is classified by the first of these that holds:

    loadgen      the load generator warned, or used ≥ ONE_CORE of CPU
    balancer     the balancer (one event loop) used ≥ ONE_CORE, or one instance behind it
                 did < BALANCER_KEEPS of the req/s it did alone
    postgres     Postgres used ≥ ONE_CORE, or ≥ INFRA_SHARE of the busy CPU
    redis        Redis (single-threaded) used ≥ ONE_CORE, or ≥ INFRA_SHARE of the busy CPU
    bcrypt       ≥ NEAR_CEILING of the bcrypt ceiling with the usable cores saturated
    cpu          the usable cores saturated, but not by bcrypt alone
    unsaturated  nothing above: offered load or waiting set the pace

The usable cores are saturated when the host is ≥ SATURATED busy (no CPU limits) or the
instances used ≥ SATURATED of their quotas. The thresholds are deliberately round: the
figures in each sentence let the reader judge the margin.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from lab.reporting.fit import fit_models
from lab.reporting.page import change, figure, percent
from lab.reporting.results import Results, Run, Series
from lab.reporting.time_verdict import time_sentence

ONE_CORE = 0.85
INFRA_SHARE = 0.30
BALANCER_KEEPS = 0.80
NEAR_CEILING = 0.85
SATURATED = 0.90
#: Below this share Postgres and Redis are called negligible.
INFRA_NEGLIGIBLE = 0.10
#: The original experiment's req/s: one container, then three behind Docker Swarm's balancer.
ORIGINAL_REQ_PER_S = (125.76, 132.93)
ORIGINAL_CONTAINERS = (1, 3)


@dataclass(frozen=True, kw_only=True)
class Finding:
    """One sentence of the verdict. `kind` is `<limit>-bound` (a classification above),
    `scale-out`, `balancer-cost`, `infra-share`, `original`, `success`, `failures`,
    `unsound`, `time` or `fit`; `series` names the series it is about, if one, and
    `text` does not repeat it (`verdict` and `grouped` say it)."""

    kind: str
    series: str | None
    text: str


@dataclass(frozen=True, kw_only=True)
class Target:
    """One of the experiment's done-when targets, checked on the measurements."""

    description: str
    measured: str
    met: bool


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
) -> str:
    """What limited `run`; `alone` is the same instances without the balancer, if measured."""
    if run.loadgen_warnings or cores(run, "loadgen") >= ONE_CORE:
        return "loadgen"
    if cores(run, "balancer") >= ONE_CORE or _lost_to_balancer(run, alone):
        return "balancer"
    for store in ("postgres", "redis"):
        share = run.cpu_seconds.get(store, 0.0) / (run.host.cpu_seconds_busy or math.inf)
        if cores(run, store) >= ONE_CORE or share >= INFRA_SHARE:
            return store
    used = quota_use(series, run, host_cores)
    saturated = run.host.utilisation >= SATURATED if used is None else used >= SATURATED
    if saturated:
        efficiency = series.efficiency_of(run)
        return "bcrypt" if efficiency is not None and efficiency >= NEAR_CEILING else "cpu"
    return "unsaturated"


def _lost_to_balancer(run: Run, alone: Run | None) -> bool:
    if alone is None or alone is run or not run.balancer or alone.balancer:
        return False
    same = alone.instances == run.instances
    return same and run.req_per_s < BALANCER_KEEPS * alone.req_per_s


def findings(results: Results) -> list[Finding]:
    out: list[Finding] = []
    for series in results.series:
        medians = series.medians()
        out += (
            _bottlenecks(series, medians, results.machine.cores)
            + _scale_out(series, medians, results.machine.cores)
            + _time_went(series)
            + _balancer_cost(series, medians)
            + _infra_share(series, medians, results.machine.cores)
            + _beside_bcrypt(results, series, medians)
        )
    out += _original(results)
    out += _failures(results)
    out += _soundness(results)
    out += _fits(results)
    return out


def verdict(results: Results) -> list[str]:
    """The verdict as short sentences, most important first; each about one series names it."""
    labels = {s.name: capitalised(s.label) for s in results.series}
    return [
        f"{labels[f.series]} — {f.text}" if f.series in labels and _per_series(f) else f.text
        for f in findings(results)
    ]


def grouped(results: Results) -> list[tuple[str, list[str]]]:
    """The verdict's sentences under a heading per series, then those about the whole run."""
    found = findings(results)
    out = [
        (
            capitalised(s.label),
            [capitalised(f.text) for f in found if f.series == s.name and _per_series(f)],
        )
        for s in results.series
        if s.runs
    ]
    overall = [capitalised(f.text) for f in found if not _per_series(f)]
    return [(title, texts) for title, texts in [*out, ("The whole run", overall)] if texts]


def capitalised(label: str) -> str:
    return label[:1].upper() + label[1:]


def _per_series(finding: Finding) -> bool:
    """Sentences written about one series; the rest name their series themselves."""
    return finding.series is not None and finding.kind not in (
        "original",
        "failures",
        "unsound",
        "fit",
    )


def targets(results: Results) -> list[Target]:
    """The issue's done-when targets: single efficiency, CPU-limited scale-out, success."""
    out: list[Target] = []
    for series in results.series:
        medians = series.medians()
        single, scaled = medians.get("single"), medians.get("scaled")
        if series.cpus_per_instance is None and single is not None:
            eff = series.efficiency_of(single)
            out.append(
                Target(
                    description=f"{series.label}: efficiency of single ≥ 0.90",
                    measured=figure(eff),
                    met=eff is not None and eff >= 0.90,
                )
            )
        if series.cpus_per_instance is not None and single and scaled and single.req_per_s:
            ratio = scaled.req_per_s / single.req_per_s
            out.append(
                Target(
                    description=f"{series.label}: scaled ≥ 2.7× the req/s of single",
                    measured=figure(ratio) + "×",
                    met=ratio >= 2.7,
                )
            )
    runs = [r for s in results.series for r in s.runs]
    worst = min((r.checks_rate for r in runs), default=None)
    out.append(
        Target(
            description="100 % success in every run",
            measured=f"lowest {percent(worst, 2)}",
            met=all(_succeeded(r) for r in runs),
        )
    )
    return out


def _succeeded(run: Run) -> bool:
    return run.checks_rate >= 1.0 and run.http_req_failed_rate == 0 and not run.iterations_failed


def _span(values: Sequence[float], show: Callable[[float], str], unit: str = "") -> str:
    """ "0.93–0.94", or one figure when both ends read the same; the unit once, at the end."""
    low, high = show(min(values)), show(max(values))
    text = low if low == high else f"{low}–{high}"
    return f"{text} {unit}" if unit else text


def _pct(fraction: float) -> str:
    return figure(fraction * 100, 1)


def _names(names: Sequence[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _bottlenecks(series: Series, medians: dict[str, Run], host_cores: int) -> list[Finding]:
    groups: dict[str, list[str]] = {}
    for topology, run in medians.items():
        kind = classify(series, run, host_cores, alone=medians.get("single"))
        groups.setdefault(kind, []).append(topology)
    out = []
    for kind, topologies in groups.items():
        runs = [medians[t] for t in topologies]
        text = _BOTTLENECK_TEXT[kind](series, runs, host_cores)
        where = _names(topologies)
        out.append(Finding(kind=f"{kind}-bound", series=series.name, text=f"{where}: {text}"))
    return out


def _ceiling_share(series: Series, runs: Sequence[Run]) -> str:
    shares = [e for r in runs if (e := series.efficiency_of(r)) is not None]
    return _span(shares, figure) + " of the bcrypt ceiling" if shares else "ceiling not measured"


def _text_bcrypt(series: Series, runs: Sequence[Run], host_cores: int) -> str:
    share = _ceiling_share(series, runs)
    if series.cpus_per_instance is None:
        busy = _span([r.host.shown_utilisation for r in runs], _pct, "%")
        return (
            f"bcrypt saturated the host's {host_cores} cores ({busy} busy, {share}); "
            "adding instances on the same host cannot add cores."
        )
    used = _span([quota_use(series, r, host_cores) or 0.0 for r in runs], _pct, "%")
    return (
        f"bcrypt saturated each instance's {figure(series.cpus_per_instance)} CPU quota "
        f"({used} of the quotas used, {share})."
    )


def _text_cpu(series: Series, runs: Sequence[Run], host_cores: int) -> str:
    busy = _span([r.host.shown_utilisation for r in runs], _pct, "%")
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
        used = _span([cores(r, component) for r in runs], figure)
        per_req = _span(
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
    if all(cores(r, "balancer") >= ONE_CORE for r in runs) or alone is None:
        return text
    lost = [r for r in runs if _lost_to_balancer(r, alone)]
    return (
        f"the balancer was the bottleneck without saturating its core (it used "
        f"{_span([cores(r, 'balancer') for r in runs], figure)} cores): one instance behind "
        f"it did {change(alone.req_per_s, lost[0].req_per_s if lost else runs[0].req_per_s)} "
        "req/s against the same instance alone, so requests waited in it."
    )


def _text_loadgen(series: Series, runs: Sequence[Run], host_cores: int) -> str:
    warnings = sorted({w for r in runs for w in r.loadgen_warnings})
    used = _span([cores(r, "loadgen") for r in runs], figure)
    said = f"; it warned: {'; '.join(warnings)}" if warnings else ""
    return f"the load generator limited the offered load (it used {used} cores{said})."


def _text_unsaturated(series: Series, runs: Sequence[Run], host_cores: int) -> str:
    busy = _span([r.host.shown_utilisation for r in runs], _pct, "%")
    return (
        f"nothing saturated ({busy} of the host busy, {_ceiling_share(series, runs)}): "
        f"{series.vus} VUs did not offer enough load, or requests waited on something "
        "other than CPU."
    )


_COMPONENT = {
    "balancer": "the balancer",
    "postgres": "Postgres",
    "redis": "Redis",
    "loadgen": "the load generator",
}

_BOTTLENECK_TEXT: dict[str, Callable[[Series, Sequence[Run], int], str]] = {
    "bcrypt": _text_bcrypt,
    "cpu": _text_cpu,
    "balancer": _text_balancer,
    "postgres": _text_component("Postgres", "postgres"),
    "redis": _text_component("Redis (single-threaded)", "redis"),
    "loadgen": _text_loadgen,
    "unsaturated": _text_unsaturated,
}


def _scale_out(series: Series, medians: dict[str, Run], host_cores: int) -> list[Finding]:
    pair = compared(medians)
    if pair is None or not medians[pair[0]].req_per_s:
        return []
    single, scaled = medians[pair[0]], medians[pair[1]]
    ratio = scaled.req_per_s / single.req_per_s
    linear = ratio / (scaled.instances / single.instances)
    text = (
        f"{scaled.instances} instances did {figure(ratio)}× the req/s of {single.instances} "
        f"({figure(single.req_per_s)} → {figure(scaled.req_per_s)} req/s, "
        f"{percent(linear)} of linear). "
    )
    before = series.usable_cores_for(single, host_cores)
    after = series.usable_cores_for(scaled, host_cores)
    limit = classify(series, scaled, host_cores)
    if limit in ("balancer", "postgres", "redis", "loadgen"):
        text += (
            f"The {scaled.instances} instances were not the limit: {_COMPONENT[limit]} "
            "was (see above)."
        )
    elif before and after and after / before >= 1.05:
        growth = after / before
        if ratio >= 0.9 * growth:
            text += (
                f"Usable cores grew {figure(before)} → {figure(after)} ({figure(growth)}×) "
                "and throughput followed them: each instance brought its own CPU."
            )
        else:
            text += (
                f"Usable cores grew {figure(before)} → {figure(after)} ({figure(growth)}×) "
                f"but throughput only {figure(ratio)}×: the added cores were not what "
                f"limited it (scaled was limited by: {limit})."
            )
    elif ratio <= 1.1 and classify(series, single, host_cores) in ("bcrypt", "cpu"):
        text += (
            f"All instances shared the same {figure(before)} cores, which one instance had "
            "already saturated, so there was no capacity to add."
        )
    elif ratio > 1.1:
        text += (
            f"The instances shared the same {figure(before)} cores, so the gain did not come "
            "from CPU: one instance alone had left the host's cores partly unused "
            f"(efficiency {figure(series.efficiency_of(single) or 0.0)})."
        )
    else:
        text += f"The instances shared the same {figure(before)} cores."
    return [Finding(kind="scale-out", series=series.name, text=text)]


def _time_went(series: Series) -> list[Finding]:
    text = time_sentence(series)
    return [] if text is None else [Finding(kind="time", series=series.name, text=text)]


def _original(results: Results) -> list[Finding]:
    """The original's headline beside ours on the shared host, the setting it measured."""
    for series in results.series:
        medians = series.medians()
        pair = compared(medians)
        if series.cpus_per_instance is not None or pair is None:
            continue
        single, scaled = medians[pair[0]], medians[pair[1]]
        text = (
            "For comparison: the original's 3 containers did +5.7 % req/s over one "
            "(125.76 → 132.93); here, on one host, "
            f"{scaled.instances} instances did {change(single.req_per_s, scaled.req_per_s)}."
        )
        return [Finding(kind="original", series=series.name, text=text)]
    return []


def _balancer_cost(series: Series, medians: dict[str, Run]) -> list[Finding]:
    single, behind = medians.get("single"), medians.get("single+lb")
    if single is None or behind is None:
        return []
    text = (
        f"the balancer in front of one instance changed req/s by "
        f"{change(single.req_per_s, behind.req_per_s)} "
        f"({figure(single.req_per_s)} → {figure(behind.req_per_s)})"
    )
    seconds = behind.cpu_seconds.get("balancer")
    if seconds is None or not behind.http_reqs:
        text += "; its CPU was not measured."
    else:
        share = seconds / behind.window_s if behind.window_s else 0.0
        # At tens of requests per second its fixed costs (health checks, timers, wake-ups)
        # would dominate a per-request figure, so the share of a core is the one to read.
        text += (
            f"; it used {percent(share)} of one core ({figure(seconds)} CPU-s over the "
            "window), most of it fixed background work (health checks, timers, wake-ups) "
            "rather than work per request at this rate; its cost per request is measured "
            "at load by `make bench-proxy`."
        )
    return [Finding(kind="balancer-cost", series=series.name, text=text)]


def _beside_bcrypt(results: Results, series: Series, medians: dict[str, Run]) -> list[Finding]:
    """Where the CPU that was not bcrypt went in `single`: what keeps efficiency below 1."""
    run = medians.get("single")
    ceiling = results.ceiling
    # Under a quota the host's idle cores would blur the shares; the shared host is where
    # efficiency is judged.
    if series.cpus_per_instance is not None or run is None or ceiling is None:
        return []
    if not run.iterations or not run.host.cpu_seconds_busy:
        return []
    bcrypt_s = run.iterations * (ceiling.hash_ms + ceiling.verify_ms) / 1000
    service_s = run.service_cpu_seconds
    busy = run.host.cpu_seconds_busy
    if not service_s or bcrypt_s > service_s:
        return []
    own_ms = (service_s - bcrypt_s) / run.iterations * 1000
    others = busy - service_s
    text = (
        f"in single, bcrypt accounts for {figure(bcrypt_s)} of the {figure(busy)} busy CPU-s "
        f"({percent(bcrypt_s / busy)}); the service's own work around it (HTTP, JWTs, "
        f"Postgres and Redis calls, handing hashes to threads) cost {figure(own_ms, 1)} ms of "
        f"CPU per iteration ({percent((service_s - bcrypt_s) / busy)}), everything else "
        f"{percent(others / busy)}: that, not Postgres or Redis, is what separates the "
        f"measured throughput from the bcrypt ceiling."
    )
    return [Finding(kind="overhead", series=series.name, text=text)]


def _infra_share(series: Series, medians: dict[str, Run], host_cores: int) -> list[Finding]:
    run = medians.get("scaled") or next(iter(medians.values()), None)
    if run is None or not run.host.cpu_seconds_busy:
        return []
    infra = run.cpu_seconds.get("postgres", 0.0) + run.cpu_seconds.get("redis", 0.0)
    share = infra / run.host.cpu_seconds_busy
    if share >= INFRA_NEGLIGIBLE or classify(series, run, host_cores) in ("postgres", "redis"):
        return []
    text = (
        f"Postgres and Redis used {figure(run.cpu_seconds.get('postgres', 0.0))} and "
        f"{figure(run.cpu_seconds.get('redis', 0.0))} CPU-s of "
        f"{figure(run.host.cpu_seconds_busy)} busy in {run.topology} ({percent(share)}): "
        "the shared database and Redis did not limit throughput."
    )
    return [Finding(kind="infra-share", series=series.name, text=text)]


def _failures(results: Results) -> list[Finding]:
    failed = [(s, r) for s in results.series for r in s.runs if not _succeeded(r)]
    if not failed:
        return [Finding(kind="success", series=None, text="Every run had 100 % success.")]
    return [
        Finding(
            kind="failures",
            series=s.name,
            text=(
                f"{s.label}, {r.topology} (repeat {r.repeat + 1}): {percent(r.checks_rate, 2)} of "
                f"checks passed, {percent(r.http_req_failed_rate, 2)} of requests failed, "
                f"{r.iterations_failed} iterations failed."
            ),
        )
        for s, r in failed
    ]


def _soundness(results: Results) -> list[Finding]:
    out = []
    for s in results.series:
        for r in s.runs:
            reasons = s.unsound_reasons_of(r)
            if r.sound and not reasons:
                continue
            text = (
                f"{s.label}, {r.topology} (repeat {r.repeat + 1}) is not a sound measurement: "
                f"{'; '.join(reasons) or 'no reason recorded'}. Its figures are not evidence."
            )
            out.append(Finding(kind="unsound", series=s.name, text=text))
    return out


def _fits(results: Results) -> list[Finding]:
    curve = results.scale_curve
    if curve is None:
        return []
    n = [float(p.instances) for p in curve.points]
    x = [p.iterations_per_s for p in curve.points]
    fits = fit_models(n, x)
    if not fits:
        text = "No scalability model fitted: it needs two or more different instance counts."
        return [Finding(kind="fit", series=curve.series, text=text)]
    parts = []
    if (usl := fits.get("usl")) is not None:
        peak = usl.peak_instances
        where = (
            "no peak (κ ≈ 0)"
            if peak is None
            else f"a predicted peak at N ≈ {figure(peak, 1)} ({figure(usl.peak_throughput)} it/s)"
            + (
                f", extrapolated beyond the {int(max(n))} instances measured"
                if peak > max(n)
                else ""
            )
        )
        parts.append(
            f"USL σ = {figure(usl.sigma, 4)}, κ = {figure(usl.kappa, 5)}, "
            f"R² = {figure(usl.r_squared, 3)}, {where}"
        )
    amdahl = fits["amdahl"]
    parts.append(f"Amdahl σ = {figure(amdahl.sigma, 4)}, R² = {figure(amdahl.r_squared, 3)}")
    span = f"{int(min(n))}–{int(max(n))} instances"
    text = f"Scale-out curve ({span}): {'; '.join(parts)}."
    return [Finding(kind="fit", series=curve.series, text=text)]
