"""The bench report: from a `Results` to report.md, report.html, results.json and the charts.

`build_report` writes the files; `render_terminal` is the table and verdict the bench prints;
`main_report` is `python -m lab report <results.json>`, which re-renders a report from a
results file. What the page says is `lab.reporting.sections`; figures are cut, not rounded,
at the digits shown (see `lab.reporting.page.figure`).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from authscale.argparsing import ArgumentParser
from lab.errors import LabError
from lab.reporting import charts as charts_module
from lab.reporting.page import render_html, render_markdown, text_table
from lab.reporting.results import Results, dump_results, load_results
from lab.reporting.sections import build_page, when
from lab.reporting.tables import comparison_table, original_table
from lab.reporting.verdict.answer import answer
from lab.reporting.verdict.sentences import grouped


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
