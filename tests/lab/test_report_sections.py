"""What the report's page says beyond the answer and the verdict: the comparison with the most
instances, the ceiling and efficiency, the parameters, the dates."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.reporting import ceiling
from lab.reporting.codec import encode
from lab.reporting.report import build_report, render_terminal
from lab.reporting.results import Results
from lab.reporting.sections import when
from tests.lab.test_records import measured_ceiling
from tests.lab.test_verdict import bench_scale_doc, doc


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


def measured(*taken: tuple[float, str]) -> list[ceiling.Ceiling]:
    """Ceiling measurements of one machine (hash 59.2 ms, one thread 8.4 pairs/s), each with
    its pairs/s on two threads and when it was taken."""
    return [measured_ceiling(pairs, 8.4, when_taken) for pairs, when_taken in taken]


def test_every_ceiling_measurement_and_its_verdict_are_reported(tmp_path: Path) -> None:
    data = doc("scaling")
    found = measured(
        (16.0, "before shared-host"), (15.0, "after shared-host"), (15.6, "after cpu-limited")
    )
    data["ceiling"] = encode(ceiling.kept(found))
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


def test_a_ceiling_slower_on_two_threads_is_flagged(tmp_path: Path) -> None:
    data = doc("scaling")
    found = measured((16.0, "before shared-host"), (8.1, "after shared-host"))
    data["ceiling"] = encode(ceiling.kept(found))
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
