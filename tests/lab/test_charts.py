"""Charts are drawn from recorded results as real PNG files."""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

import pytest

from lab.reporting.charts import Chart, render_charts
from lab.reporting.results import Results
from tests.lab.test_breakdown import add_breakdown

DATA = Path(__file__).parent / "data"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def doc(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((DATA / f"{name}.json").read_text())
    return loaded


def png_size(path: Path) -> tuple[int, int]:
    """Width and height from the PNG's IHDR chunk, after checking the signature."""
    head = path.read_bytes()[:24]
    assert head[:8] == PNG_SIGNATURE, f"{path} is not a PNG"
    assert head[12:16] == b"IHDR"
    width, height = struct.unpack(">II", head[16:24])
    return int(width), int(height)


def assert_valid(charts: list[Chart]) -> None:
    for chart in charts:
        assert chart.path.is_file()
        assert chart.path.stat().st_size > 5_000
        width, height = png_size(chart.path)
        assert width > 300
        assert height > 200


def test_every_chart_of_the_full_experiment(tmp_path: Path) -> None:
    charts = render_charts(Results.from_dict(doc("scaling")), tmp_path / "charts")
    assert [(c.kind, c.path.name) for c in charts] == [
        ("headline", "headline.png"),
        ("throughput", "throughput-shared-host.png"),
        ("latency", "latency-shared-host.png"),
        ("throughput", "throughput-cpu-limited.png"),
        ("latency", "latency-cpu-limited.png"),
        ("cpu", "cpu.png"),
        ("scale", "scale-out.png"),
    ]
    assert_valid(charts)
    assert all(c.path.parent == tmp_path / "charts" for c in charts)
    assert charts[1].title == "shared host (no CPU limits): req/s over the measured window"


def test_no_scale_chart_without_a_scale_curve(tmp_path: Path) -> None:
    charts = render_charts(Results.from_dict(doc("bcrypt_bound")), tmp_path)
    assert [c.kind for c in charts] == ["headline", "throughput", "latency", "cpu"]
    assert_valid(charts)


def test_charts_survive_sparse_results(tmp_path: Path) -> None:
    """No per-second timeline, no steps, and a two-point curve that USL cannot fit."""
    data = doc("scaling")
    for series in data["series"]:
        for run in series["runs"]:
            run["timeseries"] = []
            run["steps"] = {}
    data["scale_curve"]["points"] = data["scale_curve"]["points"][:2]
    charts = render_charts(Results.from_dict(data), tmp_path)
    assert len(charts) == 7
    assert_valid(charts)


def test_one_point_curve_still_draws_the_measurement(tmp_path: Path) -> None:
    data = doc("scaling")
    data["scale_curve"]["points"] = data["scale_curve"]["points"][:1]
    charts = render_charts(Results.from_dict(data), tmp_path)
    assert charts[-1].kind == "scale"
    assert_valid(charts[-1:])


@pytest.mark.parametrize("name", ["balancer_bound", "bcrypt_bound"])
def test_charts_are_deterministic(tmp_path: Path, name: str) -> None:
    results = Results.from_dict(doc(name))
    first = [c.path.read_bytes() for c in render_charts(results, tmp_path / "a")]
    second = [c.path.read_bytes() for c in render_charts(results, tmp_path / "b")]
    assert first == second


def test_all_zero_latencies_are_drawn_on_a_linear_scale(tmp_path: Path) -> None:
    """A log axis of nothing but zeros would warn (and fail the run under -W error)."""
    data = doc("balancer_bound")
    for run in data["series"][0]["runs"]:
        for step in run["steps"].values():
            step["http_req_duration"] = dict.fromkeys(step["http_req_duration"], 0.0)
    charts = render_charts(Results.from_dict(data), tmp_path)
    assert_valid([c for c in charts if c.kind == "latency"])


def test_where_the_time_went_is_drawn_per_series_when_recorded(tmp_path: Path) -> None:
    charts = render_charts(Results.from_dict(add_breakdown(doc("scaling"))), tmp_path)
    timed = [c for c in charts if c.kind == "time"]
    assert [c.path.name for c in timed] == ["time-shared-host.png", "time-cpu-limited.png"]
    assert_valid(timed)
    height = png_size(timed[0].path)[1]
    assert height > 400  # three topologies, one panel each, stay readable


def test_the_headline_needs_a_pair_to_compare(tmp_path: Path) -> None:
    data = doc("bcrypt_bound")
    data["series"][0]["runs"] = [r for r in data["series"][0]["runs"] if r["topology"] == "single"]
    charts = render_charts(Results.from_dict(data), tmp_path)
    assert "headline" not in [c.kind for c in charts]
