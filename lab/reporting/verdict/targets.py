"""The experiment's done-when targets (`lab.reporting.mission`), checked on the measurements."""

from __future__ import annotations

from dataclasses import dataclass

from lab.reporting import mission
from lab.reporting.page import figure, percent
from lab.reporting.results import Results
from lab.reporting.verdict.classify import succeeded


@dataclass(frozen=True, kw_only=True)
class Target:
    """One of the experiment's done-when targets, checked on the measurements."""

    description: str
    measured: str
    met: bool


def targets(results: Results) -> list[Target]:
    """Single efficiency on the shared host, CPU-limited scale-out, success in every run."""
    out: list[Target] = []
    for series in results.series:
        medians = series.medians()
        single, scaled = medians.get("single"), medians.get("scaled")
        if series.cpus_per_instance is None and single is not None:
            eff = series.efficiency_of(single)
            out.append(
                Target(
                    description=(
                        f"{series.label}: efficiency of single ≥ "
                        f"{figure(mission.SINGLE_EFFICIENCY)}"
                    ),
                    measured=figure(eff),
                    met=eff is not None and eff >= mission.SINGLE_EFFICIENCY,
                )
            )
        if series.cpus_per_instance is not None and single and scaled and single.req_per_s:
            ratio = scaled.req_per_s / single.req_per_s
            out.append(
                Target(
                    description=(
                        f"{series.label}: scaled ≥ {figure(mission.SCALED_RATIO, 1)}× "
                        "the req/s of single"
                    ),
                    measured=figure(ratio) + "×",
                    met=ratio >= mission.SCALED_RATIO,
                )
            )
    runs = [r for s in results.series for r in s.runs]
    worst = min((r.checks_rate for r in runs), default=None)
    out.append(
        Target(
            description=f"{percent(mission.SUCCESS, 0)} success in every run",
            measured=f"lowest {percent(worst, 2)}",
            met=all(succeeded(r) for r in runs),
        )
    )
    return out
