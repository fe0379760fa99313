"""The report's tables beside the original's: its table and ours per series, where each step's
time went, latency per step, CPU per component, the parameters and every run's soundness."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from lab.reporting import mission
from lab.reporting.breakdown import SEGMENT_HEADERS, SEGMENTS
from lab.reporting.page import Table, change, figure, percent
from lab.reporting.results import Results, Series
from lab.reporting.verdict.classify import compared

#: Parameters of the CPU-limited series alone.
_LIMITED_ONLY = frozenset(
    {"limited_vus", "cpus_per_instance", "cpu_limited_vus", "cpu_limited_duration_s"}
)
ORIGINAL_CAPTION = (
    f"The original experiment: {mission.ORIGINAL_TOOL}, auth scenario, {mission.ORIGINAL_VUS} "
    f"VUs, {mission.ORIGINAL_DURATION_S} s; Docker Swarm, one container vs three behind its "
    "load balancer"
)


def original_table() -> Table:
    return Table(
        id="original",
        caption=ORIGINAL_CAPTION,
        header=("metric", "1 container", "3 containers", "change"),
        rows=_metric_rows(mission.ORIGINAL_TABLE),
    )


def comparison_table(series: Series) -> Table:
    medians = series.medians()
    names = list(medians)
    values = [
        (
            r.http_req_duration.avg,
            r.req_per_s,
            r.iteration_duration.avg / 1000,
            r.http_req_duration.max / 1000,
            r.checks_rate,
        )
        for r in medians.values()
    ]
    pair = compared(medians) or (names[0], names[-1])
    base, target = names.index(pair[0]), names.index(pair[1])
    rows = _metric_rows(values, base=base, target=target)
    caption = f"This machine, {series.label}: {series.vus} VUs, bcrypt cost {series.bcrypt_cost}"
    return Table(
        id=f"ours-{series.name}",
        caption=caption,
        header=("metric", *names, "change"),
        rows=rows,
        note=f"change: {pair[1]} vs {pair[0]}",
    )


def _metric_rows(
    columns: Sequence[tuple[float, float, float, float, float]], base: int = 0, target: int = -1
) -> tuple[tuple[str, ...], ...]:
    shows: tuple[Callable[[float], str], ...] = (
        lambda v: figure(v, 2, "ms"),
        figure,
        lambda v: figure(v, 2, "s"),
        lambda v: figure(v, 2, "s"),
        lambda v: percent(v, 2),
    )
    rows = []
    for i, (metric, show) in enumerate(zip(mission.METRICS, shows, strict=True)):
        before, after = columns[base][i], columns[target][i]
        if metric == "success rate":
            points = figure((after - before) * 100, 2)
            delta = f"{'' if points.startswith('-') else '+'}{points} pp"
        else:
            delta = change(before, after)
        rows.append((metric, *(show(c[i]) for c in columns), delta))
    return tuple(rows)


def time_table(series: Series) -> Table | None:
    """Where each step's time went (ms), per topology; None when no run has timings."""
    medians = {t: r for t, r in series.medians().items() if r.where_the_time_went}
    if not medians:
        return None
    shown = [
        s
        for s in SEGMENTS
        if any(
            st.segments_ms.get(s) for r in medians.values() for st in r.where_the_time_went.values()
        )
    ]
    rows = []
    for topology, run in medians.items():
        for step, timing in run.where_the_time_went.items():
            wait_p95 = timing.phases.get("hash_wait", {}).get("p(95)")
            rows.append(
                (
                    f"{step} ({topology})",
                    figure(timing.duration_ms),
                    *(figure(timing.segments_ms.get(s, 0.0)) for s in shown),
                    figure(wait_p95) if wait_p95 is not None else "–",
                )
            )
    return Table(
        id=f"time-{series.name}",
        caption=f"{series.label}: where the time went (average ms per request)",
        header=("step", "latency", *(SEGMENT_HEADERS[s] for s in shown), "wait p95"),
        rows=tuple(rows),
        note=(
            "hash wait: queued for a hashing thread; other app: the handler's time less the "
            "phases named; outside: outside the handlers (HTTP layers, loop waits, network, "
            "load generator); wait p95: the 95th percentile of the hash wait."
        ),
    )


def step_table(series: Series) -> Table:
    rows = []
    for topology, run in series.medians().items():
        for step, s in run.steps.items():
            d = s.http_req_duration
            rows.append(
                (
                    f"{step} ({topology})",
                    str(s.count),
                    str(s.failed),
                    *(figure(v) for v in (d.med, d.p95, d.p99, d.max)),
                )
            )
    return Table(
        id=f"steps-{series.name}",
        caption=f"{series.label}: latency per step (ms)",
        header=("step", "requests", "failed", "p50", "p95", "p99", "max"),
        rows=tuple(rows),
    )


def cpu_table(series: Series, host_cores: int) -> Table:
    medians = series.medians()
    components = list(dict.fromkeys(c for r in medians.values() for c in r.cpu_seconds))
    rows: list[tuple[str, ...]] = [
        (c, *(figure(r.cpu_seconds[c]) if c in r.cpu_seconds else "–" for r in medians.values()))
        for c in components
    ]
    runs = list(medians.values())
    rows.append(("all listed", *(figure(sum(r.cpu_seconds.values())) for r in runs)))
    rows.append(("host busy", *(figure(r.host.cpu_seconds_busy) for r in runs)))
    rows.append(("host utilisation", *(percent(r.host.shown_utilisation) for r in runs)))
    rows.append(("window (s)", *(figure(r.window_s, 1) for r in runs)))
    return Table(
        id=f"cpu-{series.name}",
        caption=f"{series.label}: CPU seconds over the measured window",
        header=("component", *medians),
        rows=tuple(rows),
        note=f"Host utilisation = busy CPU seconds ÷ ({host_cores} cores × window).",
    )


def parameters_table(results: Results) -> Table:
    params = results.to_dict()["parameters"]
    limited_ran = any(s.runs and s.cpus_per_instance is not None for s in results.series)
    rows = tuple(
        (k, _plain(v))
        for k, v in params.items()
        # The CPU-limited series' settings describe nothing when it did not run.
        if limited_ran or k not in _LIMITED_ONLY
    )
    if results.versions:
        versions = ", ".join(f"{k} {v}" for k, v in sorted(results.versions.items()))
        rows += (("package versions", versions),)
    return Table(caption="Parameters", header=("parameter", "value"), rows=rows, id="parameters")


def soundness_table(results: Results) -> Table:
    rows: list[tuple[str, ...]] = []
    flagged = set()
    for s in results.series:
        for r in s.runs:
            reasons = s.unsound_reasons_of(r)
            if reasons:
                flagged.add(len(rows))
            rows.append(
                (
                    s.name,
                    r.topology,
                    str(r.repeat + 1),
                    figure(r.window_s, 1),
                    f"{r.min_iterations_per_vu}–{r.max_iterations_per_vu}",
                    "UNSOUND" if reasons else "sound",
                    "; ".join(reasons),
                )
            )
    return Table(
        id="runs",
        caption="Every run, before medians",
        header=("series", "topology", "repeat", "window s", "iterations/VU", "sound", "why not"),
        rows=tuple(rows),
        flagged=frozenset(flagged),
    )


def _plain(value: object) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return figure(value, 3).rstrip("0").rstrip(".")
    return str(value)
