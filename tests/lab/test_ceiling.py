"""The bcrypt ceiling that can't be fooled: keep the best, report the spread, and mark runs
unsound when their efficiency exceeds 1.0 or the ceilings around their series disagree."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from lab.reporting import ceiling, records
from lab.reporting.ceiling import Ceiling
from lab.reporting.codec import encode
from lab.reporting.results import Results
from tests.lab.test_records import loadgen_output, measured_ceiling

DATA = Path(__file__).parent / "data"


def measured(pairs_per_s: float, taken: str) -> Ceiling:
    return measured_ceiling(pairs_per_s, 8.4, taken)


def test_the_best_measurement_is_kept_because_other_work_only_lowers_it() -> None:
    found = [measured(15.1, "before shared-host"), measured(16.4, "after shared-host")]
    found.append(measured(16.0, "after cpu-limited"))
    assert ceiling.best(found).taken == "after shared-host"
    with pytest.raises(ValueError, match="at least one"):
        ceiling.best([])


def test_spread_is_the_gap_over_the_highest() -> None:
    assert ceiling.spread([15.0, 16.0, 15.5]) == pytest.approx(1 / 16)
    assert ceiling.spread([16.0]) == 0.0
    assert ceiling.spread([]) == 0.0


@pytest.mark.parametrize(
    ("efficiency", "pairs", "why"),
    [
        (0.97, [16.0, 15.4], []),
        (1.0, [16.0, 15.3], []),
        (1.06, [16.0, 16.0], ["efficiency 1.060 exceeds 1.0"]),
        (0.9, [16.0, 15.0], ["disagree by 6.2 % (15.00–16.00 pairs/s), more than 5 %"]),
        (1.02, [16.0, 15.0], ["efficiency 1.020 exceeds 1.0", "disagree by 6.2 %"]),
        (None, [], []),
    ],
)
def test_unsound_rule(efficiency: float | None, pairs: list[float], why: list[str]) -> None:
    reasons = ceiling.unsound_reasons(efficiency, pairs)
    assert len(reasons) == len(why)
    for reason, fragment in zip(reasons, why, strict=True):
        assert fragment in reason


def test_the_document_keeps_every_measurement_and_the_spread() -> None:
    doc = encode(ceiling.kept([measured(15.2, "before shared-host"), measured(16.0, "after x")]))
    assert doc["pairs_per_s_parallel"] == 16.0
    assert doc["taken"] == "after x"
    assert doc["spread"] == pytest.approx(0.05)
    kept: Any = doc["measurements"]
    assert [m["taken"] for m in kept] == ["before shared-host", "after x"]


def test_a_run_is_judged_again_against_the_best_ceiling() -> None:
    record = records.measured_run(
        loadgen_output(iterations=640, vus=200, least=3),
        topology="single",
        instances=1,
        balancer=False,
        repeat=0,
        cpu={},
        ceiling_iterations_per_s=15.0,  # measured low: 16 it/s would be efficiency 1.07
    )
    assert record.sound
    assert record.efficiency == pytest.approx(16.0 / 15.0)
    low = records.judged_against_ceiling(
        record, ceiling_iterations_per_s=15.0, series_pairs_per_s=[15.0, 15.2]
    )
    assert not low.sound
    assert "exceeds 1.0" in low.unsound_reasons[0]
    best = records.judged_against_ceiling(
        low, ceiling_iterations_per_s=16.5, series_pairs_per_s=[16.5, 16.2]
    )
    assert best.sound, best.unsound_reasons
    assert best.efficiency == pytest.approx(16.0 / 16.5)
    assert best.ceiling_iterations_per_s == 16.5


def _doc() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((DATA / "bcrypt_bound.json").read_text())
    return loaded


def test_an_older_results_file_with_efficiency_above_one_reads_unsound() -> None:
    data = _doc()
    run = data["series"][0]["runs"][0]
    run["efficiency"] = 1.05
    series = Results.from_dict(data).series[0]
    reasons = series.unsound_reasons_of(series.runs[0])
    assert any("efficiency 1.050 exceeds 1.0" in r for r in reasons)
    assert series.unsound_reasons_of(series.runs[1]) == ()


def test_results_carry_the_measurements_and_each_series_its_ceilings() -> None:
    data = _doc()
    data["ceiling"] = encode(ceiling.kept([measured(15.0, "before"), measured(16.0, "after")]))
    data["series"][0]["ceiling_pairs_per_s"] = [15.0, 16.0]
    results = Results.from_dict(data)
    assert results.ceiling is not None
    assert [m.taken for m in results.ceiling.measurements] == ["before", "after"]
    assert results.ceiling.spread == pytest.approx(1 / 16)
    series = results.series[0]
    assert series.ceiling_spread() == pytest.approx(1 / 16)
    for run in series.runs:
        assert any("disagree" in r for r in series.unsound_reasons_of(run))
    assert Results.from_dict(results.to_dict()) == results


@pytest.mark.parametrize(
    ("pair_s", "window"), [(0.002, 1.0), (0.118, 2.95), (0.47, 3.0), (0.0, 1.0)]
)
def test_the_parallel_window_fits_the_cost(pair_s: float, window: float) -> None:
    assert ceiling.window_s(3.0, pair_s) == pytest.approx(window)
    assert ceiling.window_s(0.5, pair_s) == 0.5  # never longer than asked
