"""The report's opening: the experiment's answer in three lines, and the caution before them
when any run was unsound."""

from __future__ import annotations

from pathlib import Path

from lab.reporting.report import build_report, render_terminal
from lab.reporting.results import Results
from lab.reporting.verdict.answer import answer
from tests.lab.test_breakdown import add_breakdown
from tests.lab.test_verdict import doc


def test_the_answer_says_where_the_time_went_when_timings_were_recorded(tmp_path: Path) -> None:

    results = Results.from_dict(add_breakdown(doc("scaling")))
    lines = answer(results)
    assert len(lines) == 3
    assert lines[2].startswith("Where the time went, shared host (no CPU limits), single: of ")
    assert "login's 6.65 s, 99.0 % was waiting for a hashing thread" in lines[2]
    assert "not to Postgres or Redis" in lines[2]
    md = build_report(results, tmp_path).markdown.read_text()
    detail = md[md.index("## Shared host (no CPU limits): the detail") :]
    assert "where the time went (average ms per request)" in detail
    assert "| login (single) | 6655.90 | 6593.90 | 59.00 | 0.90 | 0.40 | 0.10 | 0.60 |" in detail
    assert "![shared host (no CPU limits): where each step's time went" in detail
    terminal = render_terminal(results)
    assert terminal.index("The answer:") < terminal.index("The original experiment")
    assert "\n  Where the time went, shared host" in terminal


def test_the_answer_says_when_added_cpu_did_not_bring_throughput() -> None:
    data = doc("scaling")
    scaled = data["series"][1]["runs"][2]
    assert scaled["topology"] == "scaled"
    scaled.update(req_per_s=20.0, iterations_per_s=5.0)
    scaled["host"]["utilisation"] = 0.4
    scaled["cpu_seconds"] = {k: v / 3 for k, v in scaled["cpu_seconds"].items()}
    line = [x for x in answer(Results.from_dict(data)) if not x.startswith("Caution")][1]
    assert "3 instances did 1.28× the req/s of 1 (15.60 → 20.00 req/s, 42.7 % of linear)" in line
    assert "the added CPU was not what limited it" in line
    assert "; the offered load (VUs) or waiting on something other than CPU was." in line


def _opening(md: str) -> list[str]:
    opening = md[md.index("## The answer") : md.index("## Verdict")]
    return [x for x in opening.splitlines()[1:] if x]


def test_unsound_runs_are_the_first_thing_the_answer_says(tmp_path: Path) -> None:
    data = doc("scaling")
    data["series"][0]["ceiling_pairs_per_s"] = [16.0, 9.65]
    results = Results.from_dict(data)
    caution = (
        "Caution: 3 of 6 runs were unsound — the bcrypt ceilings measured before and after "
        "its series disagree by 39.7 %; read these figures as indicative only."
    )
    assert _opening(build_report(results, tmp_path).markdown.read_text())[0] == caution
    html = (tmp_path / "report.html").read_text()
    assert html.index("Caution: 3 of 6 runs were unsound") < html.index("On one shared host")
    terminal = render_terminal(results).splitlines()
    assert terminal[terminal.index("The answer:") + 1] == f"  {caution}"


def test_a_busy_host_is_named_in_the_answer(tmp_path: Path) -> None:
    data = doc("scaling")
    # Our components used 78.19 CPU seconds; something else took 20.94 more of a host whose
    # capacity over the window was 100 CPU seconds.
    data["series"][0]["runs"][0]["host"]["cpu_seconds_busy"] = 99.13
    data["series"][0]["runs"][0]["host"]["utilisation"] = 0.9913
    results = Results.from_dict(data)
    first = _opening(build_report(results, tmp_path).markdown.read_text())[0]
    assert first.startswith("Caution: 1 of 6 runs was unsound — other processes used 20.9 %")
    assert "(the host was busy)" in first
    runs = (tmp_path / "report.md").read_text()
    assert "other processes used 20.9 % of the host's CPU capacity: the host was not quiet" in runs


def test_a_sound_bench_opens_without_a_caution(tmp_path: Path) -> None:
    lines = _opening(build_report(Results.from_dict(doc("scaling")), tmp_path).markdown.read_text())
    assert lines[0].startswith("On one shared host")
