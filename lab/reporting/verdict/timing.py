"""Where a request's time went, in words: the verdict's sentences from `Run.where_the_time_went`.

The original blamed Postgres and Redis. The CPU table judges that on CPU; these sentences
judge it on latency: the share of login's latency spent waiting for a hashing thread, the
milliseconds Postgres and Redis took, and their share of the time an iteration spends in
requests.
"""

from __future__ import annotations

from collections.abc import Mapping

from lab.reporting import mission
from lab.reporting.page import figure, percent
from lab.reporting.results import Run, Series, StepTime


def timed_run(series: Series) -> Run | None:
    """The run the sentences are about: `single` when it has timings, else the first that
    has them (medians of repeats)."""
    medians = {t: r for t, r in series.medians().items() if r.where_the_time_went}
    return medians.get("single") or next(iter(medians.values()), None)


def waiting_step(run: Run) -> tuple[str, StepTime] | None:
    """Login, the step the issue asks about, else the step that waited longest."""
    steps = run.where_the_time_went
    if "login" in steps:
        return "login", steps["login"]
    if not steps:
        return None
    name = max(steps, key=lambda s: steps[s].segments_ms.get("hash_wait", 0.0))
    return name, steps[name]


def _timed_step(series: Series) -> tuple[Run, str, StepTime] | None:
    """The run the sentences are about, and its step that waited (see `waiting_step`)."""
    run = timed_run(series)
    found = waiting_step(run) if run is not None else None
    if run is None or found is None:
        return None
    return run, *found


def duration(ms: float) -> str:
    """Milliseconds as a reader says them: "6.41 s", "59.0 ms", "0.40 ms"."""
    if ms >= 1000:
        return figure(ms / 1000, 2, "s")
    return figure(ms, 1 if ms >= 10 else 2, "ms")


def stores_share(steps: Mapping[str, StepTime]) -> tuple[float, float, float]:
    """Postgres + Redis ms over one iteration's steps, the iteration's request time (ms), and
    the share: the original's hypothesis, measured on latency."""
    stores = sum(
        s.segments_ms.get("db", 0.0) + s.segments_ms.get("redis", 0.0) for s in steps.values()
    )
    total = sum(s.duration_ms for s in steps.values())
    return stores, total, stores / total if total > 0 else 0.0


def time_sentence(series: Series) -> str | None:
    """The verdict's sentence on where the time went, or None without timings."""
    timed = _timed_step(series)
    if timed is None:
        return None
    run, name, step = timed
    seg = step.segments_ms
    wait_p95 = step.phases.get("hash_wait", {}).get("p(95)")
    text = (
        f"in {run.topology}, waiting for a hashing thread was {percent(step.share('hash_wait'))} "
        f"of {name}'s latency ({duration(seg.get('hash_wait', 0.0))} of "
        f"{duration(step.duration_ms)} on average"
        + (f", p95 of the wait {duration(wait_p95)}" if wait_p95 else "")
        + f"); bcrypt itself {duration(seg.get('hash', 0.0))}, Postgres "
        f"{duration(seg.get('db', 0.0))}, Redis {duration(seg.get('redis', 0.0))}"
    )
    if seg.get("balancer"):
        text += f", the balancer {duration(seg['balancer'])}"
    text += (
        f", outside the handlers (HTTP layers, loop waits, network, client) "
        f"{duration(seg.get('remainder', 0.0))}. "
    )
    stores, total, share = stores_share(run.where_the_time_went)
    text += (
        f"Over a whole iteration Postgres and Redis took {duration(stores)} of the "
        f"{duration(total)} spent in requests ({percent(share, 2)}): "
    )
    if share >= mission.STORES_LIMIT:
        text += "on latency they were a large part of it, as the original suspected."
    elif share >= mission.STORES_NEGLIGIBLE:
        text += "on latency they were a noticeable part, though not the largest."
    else:
        text += "on latency, as on CPU, they did not limit it."
    return text


def time_answer(series: Series) -> str | None:
    """One line for the report's opening: where login's time went."""
    timed = _timed_step(series)
    if timed is None:
        return None
    run, name, step = timed
    seg = step.segments_ms
    share = stores_share(run.where_the_time_went)[2]
    cause = (
        "the time goes to queueing for bcrypt, not to Postgres or Redis"
        if (step.share("hash_wait") or 0.0) >= mission.MOSTLY_WAITING
        and share < mission.STORES_NEGLIGIBLE
        else "see the breakdown per step below"
    )
    return (
        f"Where the time went, {series.label}, {run.topology}: of {name}'s "
        f"{duration(step.duration_ms)}, {percent(step.share('hash_wait'))} was waiting for a "
        f"hashing thread; bcrypt took {duration(seg.get('hash', 0.0))}, Postgres "
        f"{duration(seg.get('db', 0.0))}, Redis {duration(seg.get('redis', 0.0))}: {cause}."
    )
