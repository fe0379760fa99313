"""The verdict names what limited throughput, from recorded results of three kinds of run.

- bcrypt_bound.json: the default experiment's shared-host series, 3 repeats: one instance
  already saturates both cores with bcrypt, so three instances add nothing.
- balancer_bound.json: bcrypt cost 4 and a balancer costing ~1.7 ms of CPU per request, so
  its one event loop saturates and single+lb loses 42 % of single's req/s.
- scaling.json: both series; with 0.5 CPU per instance, 3 instances do 2.99× one; plus the
  1–4 instance scale curve.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from lab.reporting.results import Results
from lab.reporting.verdict.classify import classify
from lab.reporting.verdict.sentences import sentences, verdict
from lab.reporting.verdict.targets import targets

DATA = Path(__file__).parent / "data"


def doc(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((DATA / f"{name}.json").read_text())
    return loaded


def load(name: str) -> Results:
    return Results.from_dict(doc(name))


def kinds(results: Results, series: str | None = None) -> list[str]:
    return [f.kind for f in sentences(results) if series is None or f.series == series]


def text_of(results: Results, kind: str, series: str | None = None) -> str:
    found = [f.text for f in sentences(results) if f.kind == kind and f.series == series]
    assert len(found) == 1, (kind, series, found)
    return found[0]


def test_bcrypt_bound_host_is_named_with_its_figures() -> None:
    results = load("bcrypt_bound")
    assert kinds(results, "shared-host")[0] == "bcrypt-bound"
    text = text_of(results, "bcrypt-bound", "shared-host")
    assert "single, single+lb and scaled" in text
    assert "saturated the host's 2 cores" in text
    assert "98.9–99.2 % busy" in text
    assert "0.93–0.94 of the bcrypt ceiling" in text
    assert "adding instances on the same host cannot add cores" in text


def test_bcrypt_bound_scale_out_bought_nothing_because_cores_were_shared() -> None:
    results = load("bcrypt_bound")
    text = text_of(results, "scale-out", "shared-host")
    assert "3 instances did 0.99× the req/s of 1" in text
    assert "60.40 → 59.80 req/s" in text
    assert "33.0 % of linear" in text
    assert "already saturated" in text


def test_the_originals_suspicion_of_postgres_and_redis_is_checked() -> None:
    text = text_of(load("bcrypt_bound"), "infra-share", "shared-host")
    assert "0.93 and 0.27 CPU-s" in text
    assert "(1.5 %)" in text
    assert "did not limit throughput" in text


def test_balancer_bound_case_blames_the_balancer_not_bcrypt() -> None:
    results = load("balancer_bound")
    found = kinds(results, "shared-host")
    assert "balancer-bound" in found
    assert "bcrypt-bound" not in found
    text = text_of(results, "balancer-bound", "shared-host")
    assert "single+lb and scaled" in text
    assert "0.98 cores" in text
    cost = text_of(results, "balancer-cost", "shared-host")
    assert "-42.0 %" in cost
    assert "960.00 → 556.00" in cost
    scale = text_of(results, "scale-out", "shared-host")
    assert "0.58×" in scale
    assert "the balancer was" in scale


def test_balancer_bound_single_is_cpu_but_not_bcrypt() -> None:
    results = load("balancer_bound")
    series = results.series[0]
    assert classify(series, series.medians()["single"]) == "cpu"
    text = text_of(results, "cpu-bound", "shared-host")
    assert "only 0.24 of the bcrypt ceiling" in text
    assert "largest user in single: the service instances, 84.9 % of the busy CPU" in text


def test_scaling_case_follows_the_cores() -> None:
    results = load("scaling")
    assert kinds(results, "cpu-limited")[0] == "bcrypt-bound"
    quota = text_of(results, "bcrypt-bound", "cpu-limited")
    assert "each instance's 0.50 CPU quota" in quota
    scale = text_of(results, "scale-out", "cpu-limited")
    assert "2.99× the req/s of 1" in scale
    assert "99.7 % of linear" in scale
    assert "0.50 → 1.50" in scale
    assert "own CPU" in scale
    # the shared-host series of the same run still shows the original's finding
    assert "0.99×" in text_of(results, "scale-out", "shared-host")


def test_scaling_case_reports_the_fitted_models() -> None:
    text = text_of(load("scaling"), "fit", "cpu-limited")
    assert "1–4 instances" in text
    assert "USL σ = " in text
    assert "Amdahl σ = " in text
    assert "R² = 0.99" in text


def test_success_is_stated_and_failures_are_listed() -> None:
    assert "Every run had 100 % success." in verdict(load("scaling"))
    data = doc("bcrypt_bound")
    run = data["series"][0]["runs"][4]
    run.update(checks_rate=0.9975, http_req_failed_rate=0.0025, iterations_failed=6)
    results = Results.from_dict(data)
    assert "success" not in kinds(results)
    failed = [f.text for f in sentences(results) if f.kind == "failures"]
    assert failed == [
        "shared host (no CPU limits), single+lb (repeat 2): 99.75 % of checks passed, "
        "0.25 % of requests failed, 6 iterations failed."
    ]


def test_unsound_runs_are_named_with_their_reasons() -> None:
    data = doc("scaling")
    run = data["series"][0]["runs"][2]
    run.update(sound=False, unsound_reasons=["window 10 s holds < 1 iteration per VU (min 0)"])
    texts = [f.text for f in sentences(Results.from_dict(data)) if f.kind == "unsound"]
    assert len(texts) == 1
    assert "scaled (repeat 1) is not a sound measurement" in texts[0]
    assert "window 10 s holds < 1 iteration per VU" in texts[0]


def test_loadgen_warnings_take_precedence() -> None:
    data = doc("bcrypt_bound")
    for run in data["series"][0]["runs"]:
        run["loadgen_warnings"] = ["event loop lagged 180 ms"]
    results = Results.from_dict(data)
    assert kinds(results, "shared-host")[0] == "loadgen-bound"
    assert "event loop lagged 180 ms" in text_of(results, "loadgen-bound", "shared-host")


def test_busy_postgres_is_blamed() -> None:
    data = doc("bcrypt_bound")
    for run in data["series"][0]["runs"]:
        run["cpu_seconds"]["postgres"] = 36.0
    results = Results.from_dict(data)
    assert "postgres-bound" in kinds(results, "shared-host")
    assert "infra-share" not in kinds(results, "shared-host")


def test_idle_host_is_unsaturated() -> None:
    data = copy.deepcopy(doc("bcrypt_bound"))
    for run in data["series"][0]["runs"]:
        run["host"]["utilisation"] = 0.4
        run["efficiency"] = 0.4
    results = Results.from_dict(data)
    assert kinds(results, "shared-host")[0] == "unsaturated-bound"
    assert "200 VUs did not offer enough load" in text_of(
        results, "unsaturated-bound", "shared-host"
    )


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("bcrypt_bound", [True, True]),
        ("balancer_bound", [False, True]),
        ("scaling", [True, True, True]),
    ],
)
def test_targets(name: str, expected: list[bool]) -> None:
    checked = targets(load(name))
    assert [t.met for t in checked] == expected
    assert checked[-1].description == "100 % success in every run"


def test_scaling_targets_show_the_measured_figures() -> None:
    checked = targets(load("scaling"))
    assert [t.measured for t in checked] == ["0.94", "2.99×", "lowest 100.00 %"]


def test_verdict_is_a_list_of_sentences() -> None:
    sentences = verdict(load("scaling"))
    assert len(sentences) >= 8
    assert all(s.endswith(".") for s in sentences)


def bench_scale_doc() -> dict[str, Any]:
    """`make bench-scale`: one CPU-limited series of scale-1 … scale-4, and its curve."""
    data = doc("scaling")
    limited = data["series"][1]
    template = limited["runs"][0]
    limited["runs"] = []
    for point in data["scale_curve"]["points"]:
        n, rate = point["instances"], point["iterations_per_s"]
        run = copy.deepcopy(template)
        run.update(topology=f"scale-{n}", instances=n, balancer=True, iterations_per_s=rate)
        run.update(req_per_s=rate * 4, usable_cores=None, ceiling_iterations_per_s=8.0 * n * 0.5)
        run["efficiency"] = rate / run["ceiling_iterations_per_s"]
        run["cpu_seconds"] = {f"service_{i + 1}": 29.0 for i in range(n)}
        limited["runs"].append(run)
    data["series"] = [limited]
    return data


def test_bench_scale_is_judged_from_fewest_to_most_instances() -> None:
    results = Results.from_dict(bench_scale_doc())
    text = text_of(results, "scale-out", "cpu-limited")
    assert "4 instances did 3.77× the req/s of 1" in text
    assert "Usable cores grew 0.50 → 2.00 (4.00×)" in text
    assert "bcrypt-bound" in kinds(results, "cpu-limited")
    assert "fit" in kinds(results, "cpu-limited")


def test_balancer_that_loses_throughput_without_cpu_is_blamed() -> None:
    data = doc("scaling")
    behind = data["series"][0]["runs"][1]
    assert behind["topology"] == "single+lb"
    behind.update(req_per_s=36.24, iterations_per_s=9.06, efficiency=0.566)
    behind["host"]["utilisation"] = 0.62
    results = Results.from_dict(data)
    text = text_of(results, "balancer-bound", "shared-host")
    assert text.startswith("single+lb: the balancer was the")
    said = "Shared host (no CPU limits) — single+lb: the balancer was the"
    assert any(sentence.startswith(said) for sentence in verdict(results))
    assert "without saturating its core (it used 0.01 cores)" in text
    assert "-40.0 % req/s against the same instance alone" in text
    assert "bcrypt-bound" in kinds(results, "shared-host")


def test_busy_redis_is_blamed() -> None:
    data = doc("bcrypt_bound")
    for run in data["series"][0]["runs"]:
        run["cpu_seconds"]["redis"] = 30.0
    results = Results.from_dict(data)
    assert kinds(results, "shared-host")[0] == "redis-bound"
    assert "Redis (single-threaded) was the bottleneck: it used 0.75 cores" in text_of(
        results, "redis-bound", "shared-host"
    )


def test_the_originals_headline_is_set_beside_ours() -> None:
    text = text_of(load("bcrypt_bound"), "original", "shared-host")
    assert "the original's 3 containers did +5.7 % req/s over one" in text
    assert text.endswith("here, on one host, 3 instances did -0.9 %.")
    assert "original" not in kinds(Results.from_dict(bench_scale_doc()))


def test_two_point_curve_still_gets_amdahl() -> None:
    data = doc("scaling")
    data["scale_curve"]["points"] = data["scale_curve"]["points"][:2]
    text = text_of(Results.from_dict(data), "fit", "cpu-limited")
    assert text.startswith("Scale-out curve (1–2 instances): Amdahl σ = ")
    data["scale_curve"]["points"] = data["scale_curve"]["points"][:1]
    assert "No scalability model fitted" in text_of(Results.from_dict(data), "fit", "cpu-limited")


def test_the_cpu_beside_bcrypt_is_measured_per_iteration() -> None:
    data = doc("bcrypt_bound")
    results = Results.from_dict(data)
    series = results.series[0]
    single = series.medians()["single"]
    ceiling = data["ceiling"]
    bcrypt_s = single.iterations * (ceiling["hash_ms"] + ceiling["verify_ms"]) / 1000
    own_ms = (single.service_cpu_seconds - bcrypt_s) / single.iterations * 1000
    text = text_of(results, "overhead", series.name)
    assert f"{own_ms:.1f}"[:-1] in text
    assert "ms of CPU per iteration" in text
    assert "overhead" not in kinds(load("scaling"), "cpu-limited")


def test_where_the_time_went_is_said_from_the_data() -> None:
    from tests.lab.test_breakdown import add_breakdown

    results = Results.from_dict(add_breakdown(doc("scaling")))
    text = text_of(results, "time", "shared-host")
    # login in single: 6.65 s on average, of which 6.59 s waiting (see add_breakdown)
    assert text.startswith("in single, waiting for a hashing thread was 99.0 % of login's latency")
    assert "(6.59 s of 6.65 s on average, p95 of the wait 9.23 s)" in text
    assert "bcrypt itself 59.0 ms, Postgres 0.90 ms, Redis 0.40 ms" in text
    assert "Postgres and Redis took 3.40 ms of the 13.31 s spent in requests (0.02 %)" in text
    assert "on latency, as on CPU, they did not limit it" in text
    assert "time" not in kinds(load("scaling"))  # no timings recorded, no sentence


def test_postgres_that_takes_the_time_is_blamed_on_latency() -> None:
    from tests.lab.test_breakdown import add_breakdown

    data = add_breakdown(doc("bcrypt_bound"))
    for run in data["series"][0]["runs"]:
        for step in run["where_the_time_went"].values():
            step["segments_ms"]["db"] = step["duration_ms"] * 0.4
    text = text_of(Results.from_dict(data), "time", "shared-host")
    assert "on latency they were a large part of it, as the original suspected" in text


def test_the_balancers_cost_is_a_share_of_a_core_not_a_per_request_figure() -> None:
    text = text_of(load("scaling"), "balancer-cost", "shared-host")
    assert "it used 1.0 % of one core (0.41 CPU-s over the window)" in text
    assert "most of it fixed background work" in text
    assert "make bench-proxy" in text
    assert "µs" not in text  # a per-request figure at tens of req/s would mislead


def test_a_peak_beyond_the_measured_instances_is_called_extrapolated() -> None:
    text = text_of(load("scaling"), "fit", "cpu-limited")
    assert "a predicted peak at N ≈ 12.1" in text
    assert "extrapolated beyond the 4 instances measured" in text


def test_verdict_groups_sentences_by_series_without_repeating_it() -> None:
    from lab.reporting.verdict.sentences import grouped

    groups = grouped(load("scaling"))
    assert [title for title, _ in groups] == [
        "Shared host (no CPU limits)",
        "0.5 CPU per instance (cgroup quota)",
        "The whole run",
    ]
    for _, texts in groups[:2]:
        assert all((s[:1].isupper() or s[:1].isdigit()) and "—" not in s for s in texts)
    assert any(s.startswith("For comparison: the original's") for s in groups[2][1])
