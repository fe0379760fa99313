"""The results document, and the report built from it: files, tables, figures, HTML."""

from __future__ import annotations

import base64
import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from lab.reporting import records
from lab.reporting.page import change, figure, percent
from lab.reporting.report import ReportFiles, build_report, main_report, render_terminal
from lab.reporting.results import Results, ResultsError, dump_results, load_results, median_runs
from lab.reporting.sections import when
from tests.lab.test_verdict import bench_scale_doc

DATA = Path(__file__).parent / "data"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def doc(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((DATA / f"{name}.json").read_text())
    return loaded


@pytest.fixture(scope="module")
def scaling_report(tmp_path_factory: pytest.TempPathFactory) -> ReportFiles:
    data = doc("scaling")
    unsound = data["series"][0]["runs"][1]
    unsound.update(sound=False, unsound_reasons=["VUs completed 0.9 iterations each on average"])
    return build_report(Results.from_dict(data), tmp_path_factory.mktemp("report") / "r1")


# -- the document ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["bcrypt_bound", "balancer_bound", "scaling"])
def test_results_round_trip(name: str, tmp_path: Path) -> None:
    results = Results.from_dict(doc(name))
    assert Results.from_dict(results.to_dict()) == results
    dump_results(results, tmp_path / "results.json")
    assert load_results(tmp_path / "results.json") == results


def test_unknown_keys_are_kept_for_the_next_reader() -> None:
    data = doc("scaling")
    data["series"][1]["runs"][0]["cpu_timeline"] = [{"t": 0, "service_1": 0.5}]
    data["parameters"]["limited_vus"] = 40
    written = Results.from_dict(data).to_dict()
    assert written["series"][1]["runs"][0]["cpu_timeline"] == [{"t": 0, "service_1": 0.5}]
    assert written["parameters"]["limited_vus"] == 40
    p95 = written["series"][0]["runs"][0]["http_req_duration"]["p(95)"]
    assert p95 == data["series"][0]["runs"][0]["http_req_duration"]["p(95)"]


@pytest.mark.parametrize(
    ("change_doc", "message"),
    [
        (lambda d: d.update(schema=2), "schema 2 is not 1"),
        (lambda d: d["series"][0]["runs"][0].pop("req_per_s"), "runs[0] has no 'req_per_s'"),
        (lambda d: d["machine"].update(cores="two"), "results.machine.cores should be int"),
        (lambda d: d["series"][0].update(runs={}), "series[0].runs should be a list"),
        (lambda d: d["series"][0]["runs"][2].update(sound=1), "runs[2].sound should be bool"),
    ],
)
def test_malformed_documents_are_refused_with_the_key(change_doc: Any, message: str) -> None:
    data = doc("bcrypt_bound")
    change_doc(data)
    with pytest.raises(ResultsError, match=re.escape(message)):
        Results.from_dict(data)


def test_load_results_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "results.json"
    bad.write_text("{not json")
    with pytest.raises(ResultsError, match=r"results\.json is not JSON"):
        load_results(bad)
    with pytest.raises(ResultsError, match="cannot read"):
        load_results(tmp_path / "missing.json")


def test_median_of_repeats() -> None:
    series = Results.from_dict(doc("bcrypt_bound")).series[0]
    singles = series.by_topology()["single"]
    assert [r.repeat for r in singles] == [0, 1, 2]
    merged = median_runs(singles)
    rates = sorted(r.iterations_per_s for r in singles)
    assert merged.iterations_per_s == rates[1]
    assert merged.http_req_duration.p95 == sorted(r.http_req_duration.p95 for r in singles)[1]
    assert merged.cpu_seconds["service_1"] == sorted(r.cpu_seconds["service_1"] for r in singles)[1]
    assert merged.min_iterations_per_vu == min(r.min_iterations_per_vu for r in singles)
    assert merged.timeseries == next(
        r.timeseries for r in singles if r.iterations_per_s == rates[1]
    )
    assert list(series.medians()) == ["single", "single+lb", "scaled"]


def test_median_is_unsound_when_any_repeat_was() -> None:
    data = doc("bcrypt_bound")
    data["series"][0]["runs"][2].update(sound=False, unsound_reasons=["too short"])
    singles = Results.from_dict(data).series[0].by_topology()["single"]
    merged = median_runs(singles)
    assert merged.sound is False
    # Shown 1-based: the third repeat, recorded as repeat 2.
    assert merged.unsound_reasons == ("repeat 3: too short",)


def test_median_of_even_repeats_and_of_one() -> None:
    runs = Results.from_dict(doc("bcrypt_bound")).series[0].by_topology()["scaled"]
    assert median_runs(runs[:1]) is runs[0]
    pair = median_runs(runs[:2])
    assert pair.req_per_s == pytest.approx((runs[0].req_per_s + runs[1].req_per_s) / 2)
    assert pair.http_reqs in (runs[0].http_reqs, runs[1].http_reqs)
    with pytest.raises(ValueError, match="at least one"):
        median_runs([])


def test_figures_are_cut_not_rounded() -> None:
    assert figure(0.8996) == "0.89"
    assert figure(14.4 / 16) == "0.90"
    assert figure(2.987) == "2.98"
    assert figure(-0.004) == "0.00"
    assert figure(3.0, 1, "s") == "3.0 s"
    assert figure(None) == figure(float("nan")) == "n/a"
    assert change(125.76, 132.93) == "+5.7 %"
    assert change(489.67, 406.03) == "-17.0 %"
    assert change(0.0, 1.0) == "n/a"
    assert percent(0.97549) == "97.5 %"


# -- the report ------------------------------------------------------------------------------


def test_report_files(scaling_report: ReportFiles) -> None:
    folder = scaling_report.folder
    assert scaling_report.markdown == folder / "report.md"
    assert scaling_report.html == folder / "report.html"
    assert load_results(scaling_report.results_json).series[1].name == "cpu-limited"
    assert len(scaling_report.charts) == 7
    assert scaling_report.charts[0].name == "headline.png"
    for chart in scaling_report.charts:
        assert chart.parent == folder
        assert chart.read_bytes()[:8] == PNG_SIGNATURE


def test_markdown_has_the_originals_table_beside_ours(scaling_report: ReportFiles) -> None:
    md = scaling_report.markdown.read_text()
    assert md.startswith("# authscale bench report, 2026-11-25 19:00:00 UTC\n")
    assert "`python -m lab bench`" in md
    assert "2 cores, AMD EPYC 7B13 64-Core Processor (KVM), 23.4 GiB" in md
    assert "| avg response | 489.67 ms | 406.03 ms | -17.0 % |" in md
    assert "| req/s | 125.76 | 132.93 | +5.7 % |" in md
    assert "| iteration avg | 5.96 s | 5.62 s | -5.7 % |" in md
    assert "| max latency | 2.24 s | 2.40 s | +7.1 % |" in md
    assert "| success rate | 100.00 % | 100.00 % | +0.00 pp |" in md
    assert "| metric | single | single+lb | scaled | change |" in md
    assert "| req/s | 60.40 | 60.10 | 59.80 | -0.9 % |" in md
    assert "| req/s | 15.60 | 15.53 | 46.66 | +199.1 % |" in md


def test_markdown_has_every_section(scaling_report: ReportFiles) -> None:
    md = scaling_report.markdown.read_text()
    headings = [line.removeprefix("## ") for line in md.splitlines() if line.startswith("## ")]
    assert headings == [
        "The answer",
        "Verdict",
        "The original experiment and ours",
        "Shared host (no CPU limits): the detail",
        "0.5 CPU per instance (cgroup quota): the detail",
        "Ceiling and efficiency",
        "Scale-out curve",
        "CPU by component",
        "Parameters",
        "Soundness of each run",
    ]
    verdict = md[md.index("## Verdict") : md.index("## The original")]
    assert [x for x in verdict.splitlines() if x.startswith("### ")] == [
        "### Shared host (no CPU limits)",
        "### 0.5 CPU per instance (cgroup quota)",
        "### The whole run",
    ]
    assert "| login (scaled) | 700 | 0 | 2086.76 | 2818.20 | 3269.98 | 3979.91 |" in md
    assert "| service_2 | – | – | 24.90 |" in md
    assert "| host utilisation | 98.9 % | 98.9 % | 99.2 % |" in md
    assert "hash 59.20 ms, verify 58.90 ms; 16.00 hash+verify pairs/s" in md
    assert "| scaled | 3 | 1.50 | 12.00 | 11.66 | 0.97 | 76.4 % |" in md
    assert "| usl | 3.99 |" in md
    assert "| cpu_limited_vus | 50 |" in md
    assert "![CPU seconds by component](cpu.png)" in md
    assert "\n- 3 instances did 2.99× the req/s of 1" in verdict
    assert "—" not in verdict  # grouped: no sentence repeats its series


def test_the_report_opens_with_the_answer_and_the_headline_chart(
    scaling_report: ReportFiles,
) -> None:
    md = scaling_report.markdown.read_text()
    opening = md[md.index("## The answer") : md.index("## Verdict")]
    lines = [x for x in opening.splitlines()[1:] if x]
    # One of the fixture's six runs is unsound, and the answer says so before anything else.
    caution = lines.pop(0)
    assert caution.startswith("Caution: 1 of 6 runs was unsound — VUs completed 0.9 iterations")
    assert caution.endswith("read these figures as indicative only.")
    assert lines[0].startswith("On one shared host, 3 instances did 0.99× the req/s of 1")
    assert "(60.40 → 59.80 req/s; the original's 1 → 3 containers: 1.05×, +5.7 %)" in lines[0]
    assert "had no CPU to add" in lines[0]
    assert lines[1].startswith("With 0.50 CPU per instance, as if each were its own machine")
    assert "2.99×" in lines[1]
    assert (
        "Postgres and Redis, which the original suspected, used 1.5 % of the busy CPU" in (lines[2])
    )
    title = "Does adding instances add throughput? req/s, one instance vs more"
    assert lines[3] == f"![{title}](headline.png)"


def test_unsound_runs_are_marked_with_their_reasons(scaling_report: ReportFiles) -> None:
    md = scaling_report.markdown.read_text()
    line = next(x for x in md.splitlines() if x.startswith("| ✗ shared-host | single+lb"))
    assert "UNSOUND" in line
    assert "VUs completed 0.9 iterations each on average" in line
    assert "| shared-host | single | 1 | 40.0 | 2–4 | sound |" in md
    assert "is not a sound measurement" in md


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.images: list[dict[str, str | None]] = []
        self.links: list[str] = []
        self.text: list[str] = []
        self.ids: dict[str, list[str]] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        ident = dict(attrs).get("id")
        if ident:
            self.ids.setdefault(tag, []).append(ident)
        if tag == "img":
            self.images.append(dict(attrs))
        self.links += [v for k, v in attrs if k in ("href", "src") and v and tag != "img"]

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_html_is_self_contained_with_charts_and_tables(scaling_report: ReportFiles) -> None:
    page = _Page()
    page.feed(scaling_report.html.read_text())
    page.close()
    # targets, original + 2 ours, 2 step, 2 CPU, 2 efficiency, 2 scale-out, parameters, runs
    assert page.tags.count("table") == 14
    assert page.tags.count("style") == 1
    assert "script" not in page.tags
    assert page.links == []
    assert len(page.images) == 7
    assert page.ids["figure"][0] == "chart-headline"
    for image in page.images:
        src = image["src"] or ""
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1])[:8] == PNG_SIGNATURE
        assert image["alt"]
    assert page.ids["table"][:4] == ["targets", "original", "ours-shared-host", "ours-cpu-limited"]
    assert "runs" in page.ids["table"]
    assert "chart-scale-out" in page.ids["figure"]
    text = " ".join(page.text)
    assert "489.67 ms" in text
    assert "46.66" in text
    assert "adding instances on the same host cannot add cores" in text
    assert "UNSOUND" in text


def test_terminal_shows_the_tables_and_the_verdict() -> None:
    text = render_terminal(Results.from_dict(doc("balancer_bound")))
    lines = text.splitlines()
    assert "req/s               125.76        132.93    +5.7 %" in lines
    assert "req/s            960.00     556.00     564.80   -41.1 %" in lines
    assert "Verdict:" in lines
    assert any("the balancer's one event loop was the bottleneck" in x for x in lines)


def test_main_report_re_renders_a_results_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "old" / "results.json"
    source.parent.mkdir()
    source.write_text((DATA / "bcrypt_bound.json").read_text())
    assert main_report([str(source)]) == 0
    out = capsys.readouterr().out
    assert out.rstrip().endswith(f"report: {source.parent}")
    assert "Verdict:" in out
    assert (source.parent / "report.md").is_file()
    assert (source.parent / "report.html").is_file()
    assert load_results(source) == Results.from_dict(doc("bcrypt_bound"))
    assert main_report([str(source), "--out", str(tmp_path / "new")]) == 0
    assert (tmp_path / "new" / "cpu.png").is_file()


def test_main_report_refuses_a_bad_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main_report([str(tmp_path / "nothing.json")], prog="authscale lab report") == 1
    err = capsys.readouterr().err.splitlines()
    assert err == [
        f"authscale lab report: error: cannot read {tmp_path / 'nothing.json'}: "
        "No such file or directory"
    ]


def _loadgen_window(iterations: int) -> dict[str, Any]:
    """The load generator's JSON, reduced to what `lab.reporting.records` reads."""
    trend = {"avg": 3300.0, "min": 9.0, "med": 2900.0, "max": 12100.0}
    trend |= {"p(90)": 7900.0, "p(95)": 8400.0, "p(99)": 9800.0}
    metrics: dict[str, Any] = {
        "http_req_duration": {"values": trend},
        "iteration_duration": {"values": {k: v * 4 for k, v in trend.items()}},
        "checks": {"values": {"rate": 1.0}},
    }
    for step in ("signup", "login", "refresh", "logout"):
        metrics[f"http_reqs{{step:{step}}}"] = {"values": {"count": iterations}}
        metrics[f"http_req_duration{{step:{step}}}"] = {"values": trend}
    return {
        "metrics": metrics,
        "window": {
            "duration_s": 40.0,
            "warmup_s": 10.0,
            "iterations_completed_in_window": iterations,
            "http_reqs_in_window": iterations * 4,
            "vus_counted": 200,
            "min_iterations_per_vu": 2,
            "max_iterations_per_vu": 4,
        },
        "timeseries": {"t": [10, 11], "http_reqs": [60, 61], "iterations": [15, 15]},
        "loadgen": {"warnings": []},
    }


def test_runs_recorded_by_the_bench_parse_and_report(tmp_path: Path) -> None:
    """The contract with `lab.reporting.records`: its run records are runs of this document."""
    data = doc("bcrypt_bound")
    usage = {
        "cpu_seconds": {"service_1": 75.0, "postgres": 0.9, "redis": 0.2, "loadgen": 1.6},
        "host": {"cpu_seconds_busy": 78.4, "utilisation": 0.98},
    }
    data["series"][0]["runs"] = [
        records.run_record(
            _loadgen_window(iterations),
            topology=topology,
            instances=instances,
            balancer=instances > 1,
            repeat=0,
            cpu=usage,
            ceiling_iterations_per_s=16.0,
        )
        for topology, instances, iterations in (("single", 1, 620), ("scaled", 3, 612))
    ]
    results = Results.from_dict(data)
    run = results.series[0].runs[0]
    assert run.req_per_s == pytest.approx(62.0)
    assert [p.reqs for p in run.timeseries] == [60.0, 61.0]
    files = build_report(results, tmp_path)
    assert "| req/s | 62.00 | 61.20 | -1.2 % |" in files.markdown.read_text()


def test_bench_scale_report_compares_fewest_with_most_instances(tmp_path: Path) -> None:
    files = build_report(Results.from_dict(bench_scale_doc()), tmp_path)
    md = files.markdown.read_text()
    assert "| metric | scale-1 | scale-2 | scale-3 | scale-4 | change |" in md
    assert "_change: scale-4 vs scale-1_" in md
    assert "\n## Scale-out curve\n" in md
    assert "scale-out.png" in [p.name for p in files.charts]
    assert "extrapolated" in md


def test_a_series_without_runs_is_left_out(tmp_path: Path) -> None:
    data = doc("scaling")
    data["series"][1]["runs"] = []
    results = Results.from_dict(data)
    md = build_report(results, tmp_path).markdown.read_text()
    assert "This machine, shared host" in md
    assert "This machine, 0.5 CPU" not in md
    assert "0.5 CPU per instance" not in render_terminal(results)


@pytest.mark.parametrize(
    ("timestamp", "shown"),
    [
        ("2026-11-25T19:00:00.123456Z", "2026-11-25 19:00:00 UTC"),
        ("2026-11-25T20:30:00+01:00", "2026-11-25 19:30:00 UTC"),
        ("2026-11-25T19:00:00", "2026-11-25 19:00:00"),
        ("yesterday", "yesterday"),
    ],
)
def test_timestamps_are_shown_in_utc(timestamp: str, shown: str) -> None:
    assert when(timestamp) == shown


def test_a_raw_document_is_saved_before_it_is_read(tmp_path: Path) -> None:
    data = doc("bcrypt_bound")
    files = build_report(data, tmp_path / "ok")
    assert json.loads(files.results_json.read_text()) == data
    assert files.markdown.is_file()
    data["series"][0]["runs"][0].pop("iterations")
    with pytest.raises(ResultsError, match="no 'iterations'"):
        build_report(data, tmp_path / "bad")
    assert json.loads((tmp_path / "bad" / "results.json").read_text()) == data


def test_the_answer_says_where_the_time_went_when_timings_were_recorded(tmp_path: Path) -> None:
    from lab.reporting.verdict.answer import answer
    from tests.lab.test_breakdown import add_breakdown

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


def test_every_ceiling_measurement_and_its_verdict_are_reported(tmp_path: Path) -> None:
    from lab.reporting import ceiling

    data = doc("scaling")
    found = [
        ceiling.Ceiling(
            bcrypt_cost=10,
            hash_ms=59.2,
            verify_ms=58.9,
            threads=2,
            pairs_per_s_parallel=pairs,
            pairs_per_s_single_thread=8.4,
            taken=taken,
        )
        for pairs, taken in (
            (16.0, "before shared-host"),
            (15.0, "after shared-host"),
            (15.6, "after cpu-limited"),
        )
    ]
    data["ceiling"] = ceiling.document(found)
    data["series"][0]["ceiling_pairs_per_s"] = [16.0, 15.0]
    data["series"][1]["ceiling_pairs_per_s"] = [15.0, 15.6]
    md = build_report(Results.from_dict(data), tmp_path).markdown.read_text()
    assert "measured 3 times, before and after each series" in md
    assert "the best (before shared-host) is kept. Their spread: 6.2 %" in md
    assert "| after shared-host | 15.00 | 93.7 % | 8.40 | 59.20 | 58.90 |" in md
    assert (
        "_bcrypt ceiling before → after this series: 16.00 → 15.00 pairs/s (spread 6.2 %)._" in md
    )
    runs = md[md.index("**Every run, before medians**") :]
    assert runs.count("| ✗ shared-host |") == 3
    assert "disagree by 6.2 % (15.00–16.00 pairs/s), more than 5 %" in runs
    assert "| cpu-limited | single | 1 | 60.0 | 4–6 | sound |" in runs


REPO_RESULTS = sorted(
    (Path(__file__).resolve().parents[2] / "docs" / "results").glob("*/results.json")
)


@pytest.mark.parametrize("source", REPO_RESULTS, ids=lambda p: p.parent.name)
def test_committed_results_still_render(source: Path, tmp_path: Path) -> None:
    """Every committed results.json renders: those written before the ceiling was bracketed
    (and before server timings) say their ceiling was measured once; newer ones name the
    measurements around each series."""
    assert main_report([str(source), "--out", str(tmp_path)]) == 0
    md = (tmp_path / "report.md").read_text()
    assert md.index("## The answer") < md.index("## Verdict")
    bracketed = json.loads(source.read_text())["ceiling"].get("measurements")
    if bracketed:
        assert "measured once, at the start" not in md
        assert all(m["taken"] in md for m in bracketed)
    else:
        assert "measured once, at the start" in md


def test_the_answer_says_when_added_cpu_did_not_bring_throughput() -> None:
    from lab.reporting.verdict.answer import answer

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


def test_a_ceiling_slower_on_two_threads_is_flagged(tmp_path: Path) -> None:
    from lab.reporting import ceiling

    data = doc("scaling")
    found = [
        ceiling.Ceiling(
            bcrypt_cost=10,
            hash_ms=59.2,
            verify_ms=58.9,
            threads=2,
            pairs_per_s_parallel=pairs,
            pairs_per_s_single_thread=8.4,
            taken=taken,
        )
        for pairs, taken in ((16.0, "before shared-host"), (8.1, "after shared-host"))
    ]
    data["ceiling"] = ceiling.document(found)
    md = build_report(Results.from_dict(data), tmp_path).markdown.read_text()
    assert "| ✗ after shared-host | 8.10 | 50.6 % | 8.40 | 59.20 | 58.90 |" in md
    assert "| before shared-host | 16.00 | 100.0 % | 8.40 |" in md
    assert "Flagged: 1 measured fewer pairs/s on several threads than on one" in md


def test_host_utilisation_is_shown_at_most_100_percent(tmp_path: Path) -> None:
    data = doc("scaling")
    for run in data["series"][0]["runs"]:
        run["host"]["utilisation"] = 1.0032
    md = build_report(Results.from_dict(data), tmp_path).markdown.read_text()
    assert "100.3 %" not in md
    assert "100.0 %" in md[md.index("ceiling and efficiency") :]


def test_parameters_of_a_series_that_did_not_run_are_left_out(tmp_path: Path) -> None:
    data = doc("scaling")
    data["parameters"].update(limited_vus=40, cpus_per_instance=0.5)
    both = build_report(Results.from_dict(data), tmp_path / "both").markdown.read_text()
    assert "| limited_vus | 40 |" in both
    assert "| cpus_per_instance | 0.5 |" in both
    data["series"][1]["runs"] = []
    shared = build_report(Results.from_dict(data), tmp_path / "shared").markdown.read_text()
    assert "limited_vus" not in shared
    assert "cpus_per_instance" not in shared
    assert "cpu_limited_vus" not in shared
    assert "| vus | 200 |" in shared
