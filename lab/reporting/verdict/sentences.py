"""The verdict as sentences, most important first: per series what limited it, what scale-out
bought and where the time went, then the whole run (the original beside ours, failures,
soundness, the scalability fit). `verdict` lists them; `grouped` puts them under a heading
per series for the report.
"""

from __future__ import annotations

from dataclasses import dataclass

from lab.reporting import mission
from lab.reporting.fit import fit_models
from lab.reporting.page import change, figure, percent
from lab.reporting.results import Results, Series
from lab.reporting.verdict import classify as judge
from lab.reporting.verdict import prose
from lab.reporting.verdict.timing import time_sentence


@dataclass(frozen=True, kw_only=True)
class Sentence:
    """One sentence of the verdict. `kind` is `<limit>-bound` (see `classify`), `scale-out`,
    `balancer-cost`, `infra-share`, `overhead`, `original`, `success`, `failures`, `unsound`,
    `time` or `fit`; `series` names the series it is about, if one, and `text` does not
    repeat it (`verdict` and `grouped` say it)."""

    kind: str
    series: str | None
    text: str


def sentences(results: Results) -> list[Sentence]:
    out: list[Sentence] = []
    for series in results.series:
        out += _about_series(series, results)
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
        for f in sentences(results)
    ]


def grouped(results: Results) -> list[tuple[str, list[str]]]:
    """The verdict's sentences under a heading per series, then those about the whole run."""
    found = sentences(results)
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


def _per_series(sentence: Sentence) -> bool:
    """Sentences written about one series; the rest name their series themselves."""
    return sentence.series is not None and sentence.kind not in (
        "original",
        "failures",
        "unsound",
        "fit",
    )


def _about_series(series: Series, results: Results) -> list[Sentence]:
    """In order: what limited each topology, what scale-out bought, where the time went, the
    balancer's cost, Postgres and Redis when negligible, what kept efficiency below 1."""
    medians = series.medians()
    host_cores = results.machine.cores
    out = [
        _said(f"{found.limit}-bound", series, prose.bottleneck_text(series, found, host_cores))
        for found in judge.bottlenecks(series, medians, host_cores)
    ]
    gained = judge.scale_out(series, medians, host_cores)
    if gained is not None:
        out.append(_said("scale-out", series, prose.scale_out_text(series, gained)))
    if (timed := judge.timed_step(series)) is not None:
        out.append(_said("time", series, time_sentence(timed)))
    single, behind = medians.get("single"), medians.get("single+lb")
    if single is not None and behind is not None:
        out.append(_said("balancer-cost", series, prose.balancer_cost_text(single, behind)))
    if (stores := judge.negligible_stores(series, medians, host_cores)) is not None:
        out.append(_said("infra-share", series, prose.stores_text(stores)))
    if (beside := judge.beside_bcrypt(results, series, medians)) is not None:
        out.append(_said("overhead", series, prose.beside_bcrypt_text(beside)))
    return out


def _said(kind: str, series: Series, text: str) -> Sentence:
    return Sentence(kind=kind, series=series.name, text=text)


def _original(results: Results) -> list[Sentence]:
    """The original's headline beside ours on the shared host, the setting it measured."""
    before, after = mission.ORIGINAL_REQ_PER_S
    for series in results.series:
        medians = series.medians()
        pair = judge.compared(medians)
        if series.cpus_per_instance is not None or pair is None:
            continue
        single, scaled = medians[pair[0]], medians[pair[1]]
        text = (
            f"For comparison: the original's {mission.ORIGINAL_CONTAINERS[1]} containers did "
            f"{change(before, after)} req/s over one ({figure(before)} → {figure(after)}); "
            f"here, on one host, {scaled.instances} instances did "
            f"{change(single.req_per_s, scaled.req_per_s)}."
        )
        return [Sentence(kind="original", series=series.name, text=text)]
    return []


def _failures(results: Results) -> list[Sentence]:
    failed = judge.failed_runs(results)
    if not failed:
        return [Sentence(kind="success", series=None, text="Every run had 100 % success.")]
    return [
        Sentence(
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


def _soundness(results: Results) -> list[Sentence]:
    return [
        Sentence(
            kind="unsound",
            series=s.name,
            text=(
                f"{s.label}, {r.topology} (repeat {r.repeat + 1}) is not a sound measurement: "
                f"{'; '.join(reasons) or 'no reason recorded'}. Its figures are not evidence."
            ),
        )
        for s, r, reasons in judge.unsound_runs(results)
    ]


def _fits(results: Results) -> list[Sentence]:
    curve = results.scale_curve
    if curve is None:
        return []
    n = [float(p.instances) for p in curve.points]
    x = [p.iterations_per_s for p in curve.points]
    fits = fit_models(n, x)
    if not fits:
        text = "No scalability model fitted: it needs two or more different instance counts."
        return [Sentence(kind="fit", series=curve.series, text=text)]
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
    return [Sentence(kind="fit", series=curve.series, text=text)]
