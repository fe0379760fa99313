"""The results document of `make bench`: what `results.json` holds, read, written, summarised.

A bench writes one `Results`; the report, the verdict and the charts only read it. Units are
in the names (`_ms`, `_s`, `_per_s`); latencies (`Latency`) are milliseconds, as in k6.
Keys this version does not know are kept in `extra` and written back unchanged, so a file from
a newer bench re-renders without losing figures.
"""

from __future__ import annotations

import dataclasses
import json
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lab.reporting import ceiling as ceiling_rule
from lab.reporting import soundness
from lab.reporting.ceiling import Ceiling as Ceiling
from lab.reporting.codec import OMIT_NONE, Doc, decode, encode
from lab.reporting.codec import ResultsError as ResultsError

SCHEMA = 1
#: The order topologies appear in, in tables and charts; others follow in the order run.
TOPOLOGY_ORDER = ("single", "single+lb", "scaled")


@dataclass(frozen=True, kw_only=True)
class Latency(Doc):
    """A k6-style summary of durations, in milliseconds."""

    avg: float
    min: float
    med: float
    max: float
    p90: float = field(metadata={"key": "p(90)"})
    p95: float = field(metadata={"key": "p(95)"})
    p99: float = field(metadata={"key": "p(99)"})


@dataclass(frozen=True, kw_only=True)
class Step(Doc):
    count: int
    failed: int
    http_req_duration: Latency


@dataclass(frozen=True, kw_only=True)
class StepTime(Doc):
    """Where one step's time went (see `lab.reporting.breakdown`): averages in ms whose
    segments add up to the client's average duration; `phases` holds each phase's avg and p(95)
    as measured."""

    duration_ms: float
    segments_ms: Mapping[str, float]
    phases: Mapping[str, Mapping[str, float]] = field(default_factory=dict)

    def share(self, segment: str) -> float | None:
        """The segment's share of the client duration (None when that is 0)."""
        if self.duration_ms <= 0:
            return None
        return self.segments_ms.get(segment, 0.0) / self.duration_ms


@dataclass(frozen=True, kw_only=True)
class TimePoint(Doc):
    """One second of a measured window; `t` counts seconds from the window's start."""

    t: float
    reqs: float
    failed: float = 0.0
    iterations: float = 0.0
    p95_ms: float | None = None


@dataclass(frozen=True, kw_only=True)
class Host(Doc):
    cpu_seconds_busy: float
    #: busy CPU seconds / (cores × window): 1.0 means every core was busy all the time.
    utilisation: float

    @property
    def shown_utilisation(self) -> float:
        """The utilisation as shown, at most 1.0: the host's counters and the window are
        read a moment apart, so a fully busy host can sample a hair above 100 %, which no
        host can be."""
        return min(1.0, self.utilisation)


@dataclass(frozen=True, kw_only=True)
class Run(Doc):
    """One measured window of one topology."""

    topology: str
    instances: int
    balancer: bool
    repeat: int
    window_s: float
    sound: bool
    unsound_reasons: tuple[str, ...] = ()
    iterations: int
    iterations_per_s: float
    iterations_failed: int
    http_reqs: int
    req_per_s: float
    http_req_failed_rate: float
    checks_rate: float
    min_iterations_per_vu: int
    max_iterations_per_vu: int
    http_req_duration: Latency
    iteration_duration: Latency
    steps: Mapping[str, Step] = field(default_factory=dict)
    #: Per step, from the servers' timing headers; empty when the load generator had none.
    where_the_time_went: Mapping[str, StepTime] = field(default_factory=dict)
    timeseries: tuple[TimePoint, ...] = ()
    #: CPU seconds over the window: `service_1`…`service_N`, `balancer`, `postgres`, …
    cpu_seconds: Mapping[str, float] = field(default_factory=dict)
    host: Host
    #: Overrides the series' values when they differ per run (per-instance CPU quotas).
    usable_cores: float | None = None
    ceiling_iterations_per_s: float | None = None
    efficiency: float | None = None
    loadgen_warnings: tuple[str, ...] = ()
    #: VUs the load generator counted, and every component's CPU (cores busy) per second of
    #: the window; files from before the bench wrote them have neither.
    vus: int | None = field(default=None, metadata=OMIT_NONE)
    cpu_timeline: tuple[Mapping[str, float], ...] | None = field(default=None, metadata=OMIT_NONE)

    @property
    def service_cpu_seconds(self) -> float:
        return sum(v for k, v in self.cpu_seconds.items() if k.startswith("service"))


@dataclass(frozen=True, kw_only=True)
class Series(Doc):
    """The topologies measured under one condition (shared host, or a CPU quota each)."""

    name: str
    label: str
    cpus_per_instance: float | None
    usable_cores: float | None = None
    ceiling_iterations_per_s: float | None = None
    vus: int
    bcrypt_cost: int
    limit_method: str | None = None
    #: The bcrypt ceilings (hash + verify pairs/s) measured before and after the series.
    ceiling_pairs_per_s: tuple[float, ...] = ()
    runs: tuple[Run, ...]

    def ceiling_for(self, run: Run) -> float | None:
        """Iterations/s the bcrypt ceiling allows the run's instances."""
        if run.ceiling_iterations_per_s is not None:
            return run.ceiling_iterations_per_s
        return self.ceiling_iterations_per_s

    def usable_cores_for(self, run: Run, host_cores: int | None = None) -> float | None:
        """Cores the run's instances could use: the run's figure, else the sum of their
        quotas (at most the host's cores), else the series' figure."""
        if run.usable_cores is not None:
            return run.usable_cores
        if self.cpus_per_instance is not None:
            host = float("inf") if host_cores is None else host_cores
            return ceiling_rule.usable_cores(self.cpus_per_instance, run.instances, host)
        return self.usable_cores

    def efficiency_of(self, run: Run) -> float | None:
        """Measured iterations/s ÷ ceiling (as recorded, else computed)."""
        if run.efficiency is not None:
            return run.efficiency
        ceiling = self.ceiling_for(run)
        return run.iterations_per_s / ceiling if ceiling else None

    def unsound_reasons_of(self, run: Run) -> tuple[str, ...]:
        """The run's recorded reasons, plus the ceiling's and the quiet host's when the bench
        that wrote them did not judge them (an older results.json)."""
        reasons = list(run.unsound_reasons)
        if not any("efficiency " in r or "bcrypt ceilings" in r for r in reasons):
            reasons += ceiling_rule.unsound_reasons(
                self.efficiency_of(run), self.ceiling_pairs_per_s
            )
        if not any("other processes used" in r for r in reasons):
            noisy = soundness.host_noise_reason(
                run.host.cpu_seconds_busy, run.cpu_seconds, run.host.utilisation
            )
            reasons += [noisy] if noisy is not None else []
        return tuple(reasons)

    def ceiling_spread(self) -> float | None:
        """How far apart the ceilings around this series were (None when not measured)."""
        pairs = self.ceiling_pairs_per_s
        return ceiling_rule.spread(pairs) if pairs else None

    def by_topology(self) -> dict[str, list[Run]]:
        """Runs grouped by topology, in report order."""
        groups: dict[str, list[Run]] = {}
        for name in TOPOLOGY_ORDER:
            groups[name] = [r for r in self.runs if r.topology == name]
        for run in self.runs:
            if run.topology not in TOPOLOGY_ORDER:
                groups.setdefault(run.topology, []).append(run)
        return {name: runs for name, runs in groups.items() if runs}

    def medians(self) -> dict[str, Run]:
        """One run per topology: the median of its repeats (see `median_runs`)."""
        return {name: median_runs(runs) for name, runs in self.by_topology().items()}


@dataclass(frozen=True, kw_only=True)
class Machine(Doc):
    cores: int
    cpu_model: str
    kernel: str
    python: str
    memory_gib: float


@dataclass(frozen=True, kw_only=True)
class Parameters(Doc):
    vus: int
    duration_s: float
    warmup_s: float
    graceful_stop_s: float
    bcrypt_cost: int
    repeats: int
    #: Written by the bench since it had a CPU-limited series and rate-limit exemptions.
    limited_vus: int | None = field(default=None, metadata=OMIT_NONE)
    vus_ramped_over_warmup: bool | None = field(default=None, metadata=OMIT_NONE)
    instances: int | None = field(default=None, metadata=OMIT_NONE)
    cpus_per_instance: float | None = field(default=None, metadata=OMIT_NONE)
    rate_limit_exempt: str | None = field(default=None, metadata=OMIT_NONE)


@dataclass(frozen=True, kw_only=True)
class ScalePoint(Doc):
    instances: int
    iterations_per_s: float
    req_per_s: float


@dataclass(frozen=True, kw_only=True)
class ScaleCurve(Doc):
    series: str
    cpus_per_instance: float | None
    points: tuple[ScalePoint, ...]


@dataclass(frozen=True, kw_only=True)
class Results(Doc):
    schema: int
    started_at: str
    finished_at: str
    command: str
    machine: Machine
    infra: Mapping[str, str]
    parameters: Parameters
    ceiling: Ceiling | None
    series: tuple[Series, ...]
    scale_curve: ScaleCurve | None = None
    #: What the run changed from what was asked, and why (e.g. a series it had to skip).
    notes: tuple[str, ...] = ()
    #: Versions of the Python packages that ran (distribution name → version).
    versions: Mapping[str, str] = field(default_factory=dict)
    #: Where the instances ran when not as processes here ("swarm").
    platform: str | None = field(default=None, metadata=OMIT_NONE)

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> Results:
        if isinstance(doc, Mapping) and doc.get("schema") != SCHEMA:
            raise ResultsError(f"schema {doc.get('schema')!r} is not {SCHEMA}, the one read here")
        results: Results = decode(cls, doc, "results")
        return results

    def to_dict(self) -> dict[str, Any]:
        doc: dict[str, Any] = encode(self)
        return doc


def load_results(path: Path) -> Results:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ResultsError(f"cannot read {path}: {exc.strerror}") from exc
    except ValueError as exc:
        raise ResultsError(f"{path} is not JSON: {exc}") from exc
    try:
        return Results.from_dict(doc)
    except ResultsError as exc:
        raise ResultsError(f"{path}: {exc}") from exc


def dump_results(results: Results, path: Path) -> None:
    text = json.dumps(results.to_dict(), indent=2, ensure_ascii=False)
    path.write_text(text + "\n", encoding="utf-8")


def median_runs(runs: Sequence[Run]) -> Run:
    """One run standing for the repeats of one topology.

    Every figure is the median over the repeats (counts take the lower median so they stay
    whole); the per-second timeline and names come from the run with the median throughput.
    The merged run is sound only if every repeat was; the fewest and most iterations per VU
    are the extremes over all repeats.
    """
    if not runs:
        raise ValueError("median_runs needs at least one run")
    if len(runs) == 1:
        return runs[0]
    middle = sorted(runs, key=lambda r: r.iterations_per_s)[(len(runs) - 1) // 2]
    merged: Run = _median_of(list(runs), middle)
    return dataclasses.replace(
        merged,
        sound=all(r.sound for r in runs),
        unsound_reasons=_unique(
            f"repeat {r.repeat + 1}: {why}" for r in runs for why in r.unsound_reasons
        ),
        loadgen_warnings=_unique(w for r in runs for w in r.loadgen_warnings),
        min_iterations_per_vu=min(r.min_iterations_per_vu for r in runs),
        max_iterations_per_vu=max(r.max_iterations_per_vu for r in runs),
    )


def _unique(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))


def _median_of(values: list[Any], middle: Any) -> Any:
    present = [v for v in values if v is not None]
    if not present:
        return None
    if dataclasses.is_dataclass(middle) and not isinstance(middle, type):
        merged = {
            f.name: _median_of([getattr(v, f.name) for v in present], getattr(middle, f.name))
            for f in dataclasses.fields(middle)
            if f.name != "extra"
        }
        return dataclasses.replace(middle, **merged)
    if isinstance(middle, bool) or not isinstance(middle, int | float | Mapping):
        return middle
    if isinstance(middle, Mapping):
        keys = list(dict.fromkeys([*middle, *(k for v in present for k in v)]))
        return {
            k: _median_of([v.get(k) for v in present], middle.get(k, _first(present, k)))
            for k in keys
        }
    if isinstance(middle, int):
        return statistics.median_low(present)
    return float(statistics.median(present))


def _first(maps: list[Mapping[str, Any]], key: str) -> Any:
    return next(m[key] for m in maps if key in m)
