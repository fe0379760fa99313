"""The bench report: from a `Results` to report.md, report.html, results.json and the charts.

`build_report` writes the files; `render_terminal` is the table and verdict the bench prints;
`main_report` is `python -m lab report <results.json>`, which re-renders a report from a
results file. Figures are cut, not rounded, at the digits shown (see `lab.reporting.page.figure`).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from authscale.argparsing import ArgumentParser
from lab.errors import LabError
from lab.reporting import ceiling as ceiling_rule
from lab.reporting import charts as charts_module
from lab.reporting.answer import answer
from lab.reporting.breakdown import SEGMENT_HEADERS, SEGMENTS
from lab.reporting.fit import fit_models
from lab.reporting.page import (
    Image,
    Page,
    Section,
    Table,
    change,
    figure,
    percent,
    render_html,
    render_markdown,
    text_table,
)
from lab.reporting.results import Results, Series, dump_results, load_results
from lab.reporting.verdict import capitalised, compared, grouped, targets

#: Parameters of the CPU-limited series alone.
_LIMITED_ONLY = frozenset(
    {"limited_vus", "cpus_per_instance", "cpu_limited_vus", "cpu_limited_duration_s"}
)
#: The rows of the original's table, and of ours beside it.
METRICS = ("avg response", "req/s", "iteration avg", "max latency", "success rate")
#: The original experiment's figures in METRICS order (ms, req/s, s, s, fraction):
#: one container, then three.
ORIGINAL = ((489.67, 125.76, 5.96, 2.24, 1.0), (406.03, 132.93, 5.62, 2.40, 1.0))
ORIGINAL_CAPTION = (
    "The original experiment: k6, auth scenario, 200 VUs, 10 s; Docker Swarm, one container "
    "vs three behind its load balancer"
)


@dataclass(frozen=True, kw_only=True)
class ReportFiles:
    folder: Path
    markdown: Path
    html: Path
    results_json: Path
    charts: tuple[Path, ...]


def build_report(results: Results | Mapping[str, Any], out_dir: Path) -> ReportFiles:
    """Write results.json, the charts, report.md and report.html into `out_dir`.

    Given the document as a mapping, it is written as it is before it is read, so the
    measurements survive even a document this version cannot read (`ResultsError`).
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    results_json = out_dir / "results.json"
    if isinstance(results, Results):
        dump_results(results, results_json)
    else:
        text = json.dumps(results, indent=2, ensure_ascii=False)
        results_json.write_text(text + "\n", encoding="utf-8")
        results = Results.from_dict(results)
    drawn = charts_module.render_charts(results, out_dir)
    page = build_page(results, drawn)
    markdown, html = out_dir / "report.md", out_dir / "report.html"
    markdown.write_text(render_markdown(page, out_dir), encoding="utf-8")
    html.write_text(render_html(page), encoding="utf-8")
    return ReportFiles(
        folder=out_dir,
        markdown=markdown,
        html=html,
        results_json=results_json,
        charts=tuple(i.path for s in page.sections for i in s.images),
    )


def build_page(results: Results, charts: Sequence[charts_module.Chart] = ()) -> Page:
    """Everything the report says, in order: the answer, the verdict by series, the
    original's table beside ours, the detail of each series, then how it was measured."""
    measured = [s for s in results.series if s.runs]
    images = {c.path.stem: Image(title=c.title, path=c.path) for c in charts}

    def pictures(*stems: str) -> tuple[Image, ...]:
        return tuple(images[stem] for stem in stems if stem in images)

    checked = targets(results)
    target_table = Table(
        id="targets",
        caption="Targets",
        header=("target", "measured", "met"),
        rows=tuple((t.description, t.measured, "yes" if t.met else "NO") for t in checked),
        flagged=frozenset(i for i, t in enumerate(checked) if not t.met),
    )
    verdict_groups = tuple((title, tuple(texts)) for title, texts in grouped(results))
    sections = [
        Section(
            title="The answer",
            paragraphs=tuple(answer(results)),
            images=pictures("headline"),
        ),
        Section(title="Verdict", groups=verdict_groups, tables=(target_table,)),
        Section(
            title="The original experiment and ours",
            paragraphs=(
                "Same layout as the original's table; change compares the most-scaled "
                "topology with `single`. Repeats are merged as medians.",
            ),
            tables=(original_table(), *(comparison_table(s) for s in measured)),
        ),
    ]
    for series in measured:
        slug = charts_module.slug(series.name)
        timed = time_table(series)
        sections.append(
            Section(
                title=f"{capitalised(series.label)}: the detail",
                paragraphs=(TIME_TEXT,) if timed else (),
                tables=(
                    *((timed,) if timed else ()),
                    step_table(series),
                    cpu_table(series, results.machine.cores),
                ),
                images=pictures(f"time-{slug}", f"throughput-{slug}", f"latency-{slug}"),
            )
        )
    sections.append(
        Section(
            title="Ceiling and efficiency",
            paragraphs=(_ceiling_text(results),),
            tables=ceiling_tables(results),
        )
    )
    if results.scale_curve is not None:
        sections.append(
            Section(
                title="Scale-out curve",
                paragraphs=(SCALE_TEXT,),
                tables=scale_tables(results),
                images=pictures("scale-out"),
            )
        )
    sections += [
        Section(title="CPU by component", images=pictures("cpu")),
        Section(title="Parameters", tables=(parameters_table(results),)),
        Section(title="Soundness of each run", tables=(soundness_table(results),)),
    ]
    return Page(
        title=f"authscale bench report, {when(results.started_at)}",
        facts=facts(results),
        sections=tuple(sections),
    )


TIME_TEXT = (
    "Where each step's time went, from the `Server-Timing` phases the service and the "
    "balancer report: averages in ms, which add up to the client's average latency (other "
    "handler work = the handler's time less the phases named; balancer = its queue, connect "
    "and time to first byte beyond the handler; outside the handlers = what the client "
    "measured beyond the outermost server: HTTP layers, event-loop waits, network, client)."
)
SCALE_TEXT = (
    "The fitted curves are drawn solid over the measured instance counts and dashed beyond "
    "them: past the last measured point they are extrapolated, not measured."
)


def when(timestamp: str) -> str:
    """An ISO 8601 timestamp as "2026-11-25 19:00:00 UTC" (as given if it is not one)."""
    try:
        moment = datetime.fromisoformat(timestamp)
    except ValueError:
        return timestamp
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S") + (" UTC" if moment.tzinfo else "")


def facts(results: Results) -> tuple[tuple[str, str], ...]:
    m = results.machine
    return (
        ("Command", f"`{results.command}`"),
        ("Started", when(results.started_at)),
        ("Finished", when(results.finished_at)),
        (
            "Machine",
            f"{m.cores} cores, {m.cpu_model}, {figure(m.memory_gib, 1)} GiB, "
            f"kernel {m.kernel}, Python {m.python}",
        ),
        ("Infra", ", ".join(f"{k}: {v}" for k, v in results.infra.items())),
        *((("Notes", " ".join(results.notes)),) if results.notes else ()),
        ("Figures", "cut, not rounded, at the digits shown; latencies in ms unless stated"),
    )


def original_table() -> Table:
    return Table(
        id="original",
        caption=ORIGINAL_CAPTION,
        header=("metric", "1 container", "3 containers", "change"),
        rows=_metric_rows(ORIGINAL),
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
    for i, (metric, show) in enumerate(zip(METRICS, shows, strict=True)):
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


def _ceiling_text(results: Results) -> str:
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
            "exceeds 1.0, the ceilings around its series differ by more than 5 %, or one it "
            "was judged against did fewer pairs/s on several threads than on one."
        )
    else:
        text += " It was measured once, at the start, by the bench that wrote these results."
    return text


def ceiling_tables(results: Results) -> tuple[Table, ...]:
    measured = [s for s in results.series if s.runs]
    tables = [efficiency_table(s, results.machine.cores) for s in measured]
    c = results.ceiling
    if c is not None and c.measurements:
        best = max(m.pairs_per_s_parallel for m in c.measurements)
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


def render_terminal(results: Results) -> str:
    """The answer, the original's table and ours per series, and the verdict by series, for a
    terminal."""
    out = [f"authscale bench, {when(results.started_at)}: `{results.command}`", ""]
    out += ["The answer:", *(f"  {line}" for line in answer(results)), ""]
    out += [*(f"Note: {note}" for note in results.notes), *([""] if results.notes else [])]
    for table in (original_table(), *(comparison_table(s) for s in results.series if s.runs)):
        out += [*text_table(table), ""]
    out.append("Verdict:")
    for title, sentences in grouped(results):
        out += [f"{title}:", *(f"- {sentence}" for sentence in sentences)]
    return "\n".join(out)


def main_report(argv: Sequence[str], prog: str = "python -m lab report") -> int:
    """`lab report <results.json> [--out DIR]`: re-render a report."""
    parser = ArgumentParser(
        prog=prog,
        description="Re-render the report (report.md, report.html, charts) from a results.json "
        "the bench wrote.",
    )
    parser.add_argument("results", type=Path, help="a results.json written by the bench")
    parser.add_argument("--out", type=Path, help="folder for the report (default: beside it)")
    args = parser.parse_args(list(argv))
    try:
        results = load_results(args.results)
        files = build_report(results, args.out or args.results.parent)
    except LabError as exc:
        # Not a usage error (exit 2): the command line was right, the file was not.
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 1
    print(render_terminal(results))
    print(f"report: {files.folder}")
    return 0
