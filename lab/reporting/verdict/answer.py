"""The report's opening: the experiment's answer in three lines, drawn from the data.

1. On one shared host (the original's setting): what N instances did against one, beside
   the original's 1 → 3 containers, and why.
2. With a CPU quota per instance (separate machines, emulated): the same comparison.
3. Where the time went (the servers' timings), or, from an older bench without them, what
   Postgres and Redis cost in CPU: the original's suspicion, checked.

A line whose data is missing (a series not run, no timings) is left out.
"""

from __future__ import annotations

from lab.reporting import mission
from lab.reporting.page import change, figure, percent
from lab.reporting.results import Results, Series
from lab.reporting.verdict.classify import (
    CORE_BOUND,
    classify,
    quota_use,
    scale_out,
    timed_step,
)
from lab.reporting.verdict.prose import COMPONENT_NAMES
from lab.reporting.verdict.timing import time_answer

_LIMITS = {
    **COMPONENT_NAMES,
    "unsaturated": "the offered load (VUs) or waiting on something other than CPU",
    "cpu": "CPU work other than bcrypt",
    "bcrypt": "bcrypt on the available cores",
}


def answer(results: Results) -> list[str]:
    """The opening lines; a caution first when any run was unsound, so a reader who stops
    after the first paragraph does not take indicative figures for a verdict."""
    lines = [caution] if (caution := _caution(results)) is not None else []
    lines += [
        line
        for series in results.series
        if series.runs and (line := _scale_line(series, results.machine.cores)) is not None
    ]
    timed = [time_answer(s, t) for s in results.series if (t := timed_step(s)) is not None]
    if timed:
        lines.append(timed[0])
    elif (stores := _stores_line(results)) is not None:
        lines.append(stores)
    return lines


#: Distinct causes named in the caution; the soundness table lists them all.
_CAUSES_SHOWN = 3


def _caution(results: Results) -> str | None:
    measured = [(s, r) for s in results.series for r in s.runs]
    reasons = {id(r): s.unsound_reasons_of(r) for s, r in measured}
    unsound = [r for _, r in measured if reasons[id(r)]]
    if not unsound:
        return None
    causes = list(dict.fromkeys(_cause(why) for r in unsound for why in reasons[id(r)]))
    shown = "; ".join(causes[:_CAUSES_SHOWN])
    if len(causes) > _CAUSES_SHOWN:
        shown += f"; and {len(causes) - _CAUSES_SHOWN} more (see the soundness of each run)"
    were = "was" if len(unsound) == 1 else "were"
    return (
        f"Caution: {len(unsound)} of {len(measured)} runs {were} unsound — {shown}; read "
        "these figures as indicative only."
    )


def _cause(reason: str) -> str:
    """A reason's first clause: the figure that failed, without the explanation."""
    if reason.startswith("other processes used"):
        return reason.replace(": the host was not quiet", " (the host was busy)")
    return reason.split(" (", 1)[0].split(": ", 1)[0]


def _scale_line(series: Series, host_cores: int) -> str | None:
    found = scale_out(series, series.medians(), host_cores)
    if found is None:
        return None
    one, more = found.one, found.more
    figures = (
        f"{more.instances} instances did {figure(found.ratio)}× the req/s of {one.instances} "
        f"({figure(one.req_per_s)} → {figure(more.req_per_s)} req/s"
    )
    if series.cpus_per_instance is None:
        before, after = mission.ORIGINAL_REQ_PER_S
        containers = mission.ORIGINAL_CONTAINERS
        figures += (
            f"; the original's {containers[0]} → {containers[1]} "
            f"containers: {figure(after / before)}×, {change(before, after)})"
        )
        limit = classify(series, one, host_cores)
        if limit in CORE_BOUND:
            why = (
                f"one instance already kept the host's {host_cores} cores "
                f"{percent(one.host.shown_utilisation)} busy, so more instances had no CPU to add"
            )
        else:
            why = f"one instance was limited by {_LIMITS.get(limit, limit)}"
        return f"On one shared host, {figures}: {why}."
    figures += f", {percent(found.linear)} of linear)"
    used = quota_use(series, more, host_cores)
    if found.linear >= mission.NEAR_LINEAR:
        why = "scale-out works when each instance brings its own CPU"
    else:
        why = "the added CPU was not what limited it"
        if used is not None:
            why += f" ({percent(used)} of the quotas used)"
        why += f"; {_LIMITS.get(found.limit, found.limit)} was"
    return (
        f"With {figure(series.cpus_per_instance)} CPU per instance, as if each were its own "
        f"machine, {figures}: {why}."
    )


def _stores_line(results: Results) -> str | None:
    """Without timings: Postgres and Redis judged on CPU, in the first series' run with the
    most instances (the most load on them)."""
    for series in results.series:
        medians = series.medians()
        run = max(medians.values(), key=lambda r: r.instances, default=None)
        if run is None or not run.host.cpu_seconds_busy:
            continue
        stores = run.cpu_seconds.get("postgres", 0.0) + run.cpu_seconds.get("redis", 0.0)
        share = stores / run.host.cpu_seconds_busy
        verdict = (
            "not what limited throughput"
            if classify(series, run, results.machine.cores) not in ("postgres", "redis")
            else "what limited throughput"
        )
        return (
            f"Postgres and Redis, which the original suspected, used {percent(share)} of the "
            f"busy CPU ({series.label}, {run.topology}): {verdict}. This bench recorded no "
            "server timings, so where the time went is not shown."
        )
    return None
