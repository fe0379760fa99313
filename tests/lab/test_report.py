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
from lab.reporting.codec import encode
from lab.reporting.report import ReportFiles, build_report, main_report, render_terminal
from lab.reporting.results import Results, ResultsError, dump_results, load_results, median_runs
from tests.lab.test_verdict import doc

DATA = Path(__file__).parent / "data"


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


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
        encode(
            records.measured_run(
                _loadgen_window(iterations),
                topology=topology,
                instances=instances,
                balancer=instances > 1,
                repeat=0,
                cpu=usage,
                ceiling_iterations_per_s=16.0,
            )
        )
        for topology, instances, iterations in (("single", 1, 620), ("scaled", 3, 612))
    ]
    results = Results.from_dict(data)
    run = results.series[0].runs[0]
    assert run.req_per_s == pytest.approx(62.0)
    assert [p.reqs for p in run.timeseries] == [60.0, 61.0]
    files = build_report(results, tmp_path)
    assert "| req/s | 62.00 | 61.20 | -1.2 % |" in files.markdown.read_text()


def test_a_raw_document_is_saved_before_it_is_read(tmp_path: Path) -> None:
    data = doc("bcrypt_bound")
    files = build_report(data, tmp_path / "ok")
    assert json.loads(files.results_json.read_text()) == data
    assert files.markdown.is_file()
    data["series"][0]["runs"][0].pop("iterations")
    with pytest.raises(ResultsError, match="no 'iterations'"):
        build_report(data, tmp_path / "bad")
    assert json.loads((tmp_path / "bad" / "results.json").read_text()) == data


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
