"""The report's ceiling and efficiency section and its scale-out curve: how the bcrypt
ceiling was measured, the efficiency of each topology against it, and the fitted models."""

from __future__ import annotations

from lab.reporting import ceiling as ceiling_rule
from lab.reporting.fit import fit_models
from lab.reporting.page import Table, figure, percent
from lab.reporting.results import Results, Series


def ceiling_text(results: Results) -> str:
    c = results.ceiling
    if c is None:
        return "The bcrypt ceiling was not measured in this run."
    text = (
        f"bcrypt cost {c.bcrypt_cost} on this machine: hash {figure(c.hash_ms)} ms, verify "
        f"{figure(c.verify_ms)} ms; {figure(c.pairs_per_s_parallel)} hash+verify pairs/s on "
        f"{c.threads} threads ({figure(c.pairs_per_s_single_thread)} on one). One iteration "
        "does one pair (signup hashes, login verifies), so the ceiling is the pairs/s the "
        "usable cores allow; efficiency = measured iterations/s ÷ ceiling."
    )
    if c.measurements:
        text += (
            f" It was measured {len(c.measurements)} times, before and after each series; "
            f"other work can only lower a measurement, so the best ({c.taken}) is kept. "
            f"Their spread: {percent(c.spread)}. A run is unsound when its efficiency "
            "exceeds 1.0, the ceilings around its series differ by more than "
            f"{percent(ceiling_rule.MAX_DISAGREEMENT, 0)}, or one it was judged against did "
            "fewer pairs/s on several threads than on one."
        )
    else:
        text += " It was measured once, at the start, by the bench that wrote these results."
    return text


def ceiling_tables(results: Results) -> tuple[Table, ...]:
    measured = [s for s in results.series if s.runs]
    tables = [efficiency_table(s, results.machine.cores) for s in measured]
    c = results.ceiling
    if c is not None and c.measurements:
        best = ceiling_rule.best(c.measurements).pairs_per_s_parallel
        slower = [i for i, m in enumerate(c.measurements) if ceiling_rule.slower_in_parallel(m)]
        note = f"Spread (highest − lowest) ÷ highest: {percent(c.spread)}."
        if slower:
            note += (
                f" Flagged: {len(slower)} measured fewer pairs/s on several threads than on "
                "one: the machine was busy then, and the runs judged against it are unsound."
            )
        tables.insert(
            0,
            Table(
                id="ceilings",
                caption="Every measurement of the bcrypt ceiling",
                header=(
                    "taken",
                    "pairs/s",
                    "of the best",
                    "pairs/s on one thread",
                    "hash ms",
                    "verify ms",
                ),
                rows=tuple(
                    (
                        m.taken or "–",
                        figure(m.pairs_per_s_parallel),
                        percent(m.pairs_per_s_parallel / best if best else None),
                        figure(m.pairs_per_s_single_thread),
                        figure(m.hash_ms),
                        figure(m.verify_ms),
                    )
                    for m in c.measurements
                ),
                note=note,
                flagged=frozenset(slower),
            ),
        )
    return tuple(tables)


def efficiency_table(series: Series, host_cores: int) -> Table:
    rows = []
    for topology, r in series.medians().items():
        rows.append(
            (
                topology,
                str(r.instances),
                figure(series.usable_cores_for(r, host_cores)),
                figure(series.ceiling_for(r)),
                figure(r.iterations_per_s),
                figure(series.efficiency_of(r)),
                percent(r.host.shown_utilisation),
            )
        )
    return Table(
        id=f"efficiency-{series.name}",
        caption=f"{series.label}: ceiling and efficiency",
        note=_bracket(series),
        header=(
            "topology",
            "instances",
            "usable cores",
            "ceiling it/s",
            "measured it/s",
            "efficiency",
            "host utilisation",
        ),
        rows=tuple(rows),
    )


def _bracket(series: Series) -> str:
    pairs = series.ceiling_pairs_per_s
    if not pairs:
        return ""
    shown = " → ".join(figure(p) for p in pairs)
    return (
        f"bcrypt ceiling before → after this series: {shown} pairs/s "
        f"(spread {percent(series.ceiling_spread())})."
    )


def scale_tables(results: Results) -> tuple[Table, ...]:
    curve = results.scale_curve
    if curve is None:
        return ()
    n = [float(p.instances) for p in curve.points]
    x = [p.iterations_per_s for p in curve.points]
    fits = list(fit_models(n, x).values())
    one = x[n.index(min(n))] / min(n) if n else 0.0
    points = Table(
        id="scale-points",
        caption=f"Scale-out: {curve.series}, {figure(curve.cpus_per_instance)} CPU per instance",
        header=("instances", "it/s", "req/s", "× one instance", *(f.model for f in fits)),
        rows=tuple(
            (
                str(p.instances),
                figure(p.iterations_per_s),
                figure(p.req_per_s),
                figure(p.iterations_per_s / one) if one else "n/a",
                *(figure(float(f.predict([p.instances])[0])) for f in fits),
            )
            for p in curve.points
        ),
    )
    models = Table(
        id="scale-models",
        caption="Fitted models (least squares on it/s)",
        header=("model", "X1 it/s", "σ", "κ", "R²", "peak N*", "peak it/s"),
        rows=tuple(
            (
                f.model,
                figure(f.x1),
                figure(f.sigma, 4),
                figure(f.kappa, 5) if f.model == "usl" else "0 (fixed)",
                figure(f.r_squared, 3),
                figure(f.peak_instances, 1) if f.peak_instances else "none",
                figure(f.peak_throughput) if f.peak_throughput else "none",
            )
            for f in fits
        ),
        note="X(N) = X1·N / (1 + σ(N−1) + κN(N−1)); Amdahl is κ = 0. N* = √((1−σ)/κ).",
    )
    return (points, models)
