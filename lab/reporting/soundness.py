"""When a run measures a steady state on a quiet host: the thresholds, the host-noise rule
and the warning given before a run that cannot be sound."""

from __future__ import annotations

from collections.abc import Mapping

#: Each VU must complete at least this many iterations inside the window…
MIN_ITERATIONS_PER_VU = 2
#: …and the average VU at least this many, or the window measured a ramp, not a steady state.
MEAN_ITERATIONS_PER_VU = 3.0
#: The share of the host's CPU capacity (usable cores × window) that processes the bench did
#: not start may use before the run stops measuring our components alone: beyond it,
#: something else competed for the cores and the figures say as much about that as about
#: authscale. Capacity, not busy time: in a CPU-limited run the host is mostly idle, and the
#: kernel's own threads would otherwise be a large share of the little busy time.
MAX_OTHER_SHARE = 0.10


def host_noise_reason(
    host_busy: float, components: Mapping[str, float], utilisation: float
) -> str | None:
    """Why the host was not quiet, when processes the bench did not start used more than
    MAX_OTHER_SHARE of its CPU capacity (None when it was quiet enough). `utilisation` is
    busy ÷ capacity, as the run recorded it."""
    if host_busy <= 0 or utilisation <= 0:
        return None
    capacity = host_busy / utilisation
    other = max(0.0, host_busy - sum(float(v) for v in components.values()))
    share = other / capacity
    if share <= MAX_OTHER_SHARE:
        return None
    return (
        f"other processes used {share * 100:.1f} % of the host's CPU capacity: the host was "
        "not quiet"
    )


def predicted_iteration_s(vus: int, ceiling_iterations_per_s: float) -> float:
    """In a closed system at the ceiling, each VU waits its turn: vus / throughput."""
    return vus / ceiling_iterations_per_s if ceiling_iterations_per_s > 0 else float("inf")


def soundness_forecast(vus: int, window_s: float, ceiling_iterations_per_s: float) -> str | None:
    """Before running: a warning when even at the ceiling the window is too short."""
    per_iteration = predicted_iteration_s(vus, ceiling_iterations_per_s)
    expected = window_s / per_iteration
    if expected < MEAN_ITERATIONS_PER_VU:
        return (
            f"{vus} VUs at a ceiling of {ceiling_iterations_per_s:.1f} it/s take about "
            f"{per_iteration:.1f} s per iteration, so a {window_s:g} s window holds about "
            f"{expected:.1f} iterations per VU: the run will be marked unsound"
        )
    return None
