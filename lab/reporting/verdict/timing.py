"""Where a request's time went, in words: the verdict's sentences from `classify.timed_step`.

The original blamed Postgres and Redis. The CPU table judges that on CPU; these sentences
judge it on latency: the share of login's latency spent waiting for a hashing thread, the
milliseconds Postgres and Redis took, and their share of the time an iteration spends in
requests.
"""

from __future__ import annotations

from lab.reporting.page import figure, percent
from lab.reporting.results import Series
from lab.reporting.verdict.classify import StoresOnLatency, TimedStep


def duration(ms: float) -> str:
    """Milliseconds as a reader says them: "6.41 s", "59.0 ms", "0.40 ms"."""
    if ms >= 1000:
        return figure(ms / 1000, 2, "s")
    return figure(ms, 1 if ms >= 10 else 2, "ms")


def time_sentence(found: TimedStep) -> str:
    """The verdict's sentence on where the time went."""
    run, name, step = found.run, found.name, found.step
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
    text += (
        f"Over a whole iteration Postgres and Redis took {duration(found.stores_ms)} of the "
        f"{duration(found.requests_ms)} spent in requests ({percent(found.stores_share, 2)}): "
    )
    return text + _STORES_ON_LATENCY[found.stores_on_latency]


_STORES_ON_LATENCY = {
    StoresOnLatency.LARGE: "on latency they were a large part of it, as the original suspected.",
    StoresOnLatency.NOTICEABLE: "on latency they were a noticeable part, though not the largest.",
    StoresOnLatency.NEGLIGIBLE: "on latency, as on CPU, they did not limit it.",
}


def time_answer(series: Series, found: TimedStep) -> str:
    """One line for the report's opening: where login's time went."""
    run, name, step = found.run, found.name, found.step
    seg = step.segments_ms
    cause = (
        "the time goes to queueing for bcrypt, not to Postgres or Redis"
        if found.queued_for_bcrypt
        else "see the breakdown per step below"
    )
    return (
        f"Where the time went, {series.label}, {run.topology}: of {name}'s "
        f"{duration(step.duration_ms)}, {percent(step.share('hash_wait'))} was waiting for a "
        f"hashing thread; bcrypt took {duration(seg.get('hash', 0.0))}, Postgres "
        f"{duration(seg.get('db', 0.0))}, Redis {duration(seg.get('redis', 0.0))}: {cause}."
    )
