"""The report as a page: its sections in order, each filled from the results, and the facts
under its title."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from lab.reporting import charts as charts_module
from lab.reporting.capacity import ceiling_tables, ceiling_text, scale_tables
from lab.reporting.page import Image, Page, Section, Table, figure
from lab.reporting.results import Results
from lab.reporting.tables import (
    comparison_table,
    cpu_table,
    original_table,
    parameters_table,
    soundness_table,
    step_table,
    time_table,
)
from lab.reporting.verdict.answer import answer
from lab.reporting.verdict.sentences import capitalised, grouped
from lab.reporting.verdict.targets import targets


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
            paragraphs=(ceiling_text(results),),
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
