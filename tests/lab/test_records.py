"""Run records and their soundness, from recorded load-generator output (no sockets)."""

from __future__ import annotations

from typing import Any

import pytest

from lab.reporting import ceiling, records, soundness
from lab.reporting.results import Run
from loadgen.stats import STEPS


def loadgen_output(
    *, iterations: int, vus: int, least: int, window_s: float = 40.0
) -> dict[str, Any]:
    trend = {
        "avg": 480.0,
        "min": 2.0,
        "med": 300.0,
        "max": 2300.0,
        "p(90)": 900.0,
        "p(95)": 1200.0,
        "p(99)": 2000.0,
    }
    metrics: dict[str, Any] = {
        "http_reqs": {"type": "counter", "values": {"count": iterations * 4 + 13, "rate": 1.0}},
        "http_req_failed": {
            "type": "rate",
            "values": {"rate": 0.0, "passes": 0, "fails": iterations * 4},
        },
        "checks": {"type": "rate", "values": {"rate": 1.0}},
        "http_req_duration": {"type": "trend", "values": trend},
        "iteration_duration": {"type": "trend", "values": {k: v * 4 for k, v in trend.items()}},
        "iterations_failed": {"type": "counter", "values": {"count": 0}},
    }
    for step in STEPS:
        metrics[f"http_reqs{{step:{step}}}"] = {"values": {"count": iterations}}
        metrics[f"http_req_failed{{step:{step}}}"] = {"values": {"rate": 0.0, "passes": 0}}
        metrics[f"http_req_duration{{step:{step}}}"] = {"values": trend}
    return {
        "metrics": metrics,
        "window": {
            "duration_s": window_s,
            "warmup_s": 10.0,
            "iterations_completed_in_window": iterations,
            "http_reqs_in_window": iterations * 4,
            "vus_counted": vus,
            "min_iterations_per_vu": least,
            "max_iterations_per_vu": least + 2,
        },
        "timeseries": {
            "t": [9, 10, 11, 49, 50],
            "http_reqs": [5, 60, 61, 59, 7],
            "http_req_failed": [0] * 5,
            "iterations": [1, 15, 15, 14, 2],
            "http_req_duration_p95": [1.0] * 5,
        },
        "loadgen": {"bottleneck": False, "warnings": []},
        "config": {"vus": vus},
    }


def record(**kw: Any) -> Run:
    return records.measured_run(
        loadgen_output(**kw),
        topology="single",
        instances=1,
        balancer=False,
        repeat=0,
        cpu={"cpu_seconds": {"service_1": 70.0}, "host": {"utilisation": 0.97}},
        ceiling_iterations_per_s=16.0,
    )


def test_rates_count_only_the_window() -> None:
    r = record(iterations=600, vus=200, least=2)
    assert r.req_per_s == pytest.approx(2400 / 40)
    assert r.iterations_per_s == pytest.approx(15.0)
    assert r.efficiency == pytest.approx(15.0 / 16.0)
    assert [row.t for row in r.timeseries] == [0, 1, 39]
    assert r.steps["login"].count == 600
    assert r.cpu_seconds == {"service_1": 70.0}


def test_a_steady_state_run_is_sound() -> None:
    r = record(iterations=600, vus=200, least=2)
    assert r.sound, r.unsound_reasons


def test_the_original_ten_second_window_is_unsound_and_says_why() -> None:
    r = record(iterations=120, vus=200, least=0, window_s=10.0)
    assert not r.sound
    assert "0.6 iterations each on average" in r.unsound_reasons[0]


def test_a_bottlenecked_generator_makes_the_run_unsound() -> None:
    out = loadgen_output(iterations=600, vus=200, least=3)
    out["loadgen"] = {"bottleneck": True, "warnings": ["event loop lag p99 40 ms"]}
    r = records.measured_run(
        out,
        topology="scaled",
        instances=3,
        balancer=True,
        repeat=0,
        cpu={},
        ceiling_iterations_per_s=16.0,
    )
    assert r.unsound_reasons == ("the load generator was itself a bottleneck (see its warnings)",)
    assert r.loadgen_warnings == ("event loop lag p99 40 ms",)


def test_forecast_warns_before_an_unsound_run() -> None:
    assert soundness.soundness_forecast(200, 10.0, 16.0) is not None
    assert soundness.soundness_forecast(200, 45.0, 16.0) is None
    assert soundness.soundness_forecast(50, 45.0, 2.0) is not None


def _with_cpu(busy: float, components: dict[str, float]) -> Run:
    return records.measured_run(
        loadgen_output(iterations=600, vus=200, least=2),
        topology="single",
        instances=1,
        balancer=False,
        repeat=0,
        cpu={"cpu_seconds": components, "host": {"cpu_seconds_busy": busy, "utilisation": 0.9}},
        ceiling_iterations_per_s=16.0,
    )


def test_a_run_on_a_busy_host_is_unsound_and_says_how_busy() -> None:
    quiet = _with_cpu(72.0, {"service_1": 60.0, "postgres": 2.0, "loadgen": 4.0})
    assert quiet.sound, quiet.unsound_reasons
    busy = _with_cpu(80.0, {"service_1": 60.0, "postgres": 2.0, "loadgen": 4.0})
    assert not busy.sound
    assert busy.unsound_reasons == (
        "other processes used 15.8 % of the host's CPU capacity: the host was not quiet",
    )


def measured_ceiling(parallel: float, single: float, taken: str) -> ceiling.Ceiling:
    """A ceiling measurement of one machine (hash 59.2 ms, verify 58.9 ms, two threads) with
    its pairs/s on two threads and on one, and when it was taken."""
    return ceiling.Ceiling(
        bcrypt_cost=10,
        hash_ms=59.2,
        verify_ms=58.9,
        threads=2,
        pairs_per_s_parallel=parallel,
        pairs_per_s_single_thread=single,
        taken=taken,
    )


def test_a_ceiling_slower_on_two_threads_than_on_one_makes_its_runs_unsound() -> None:
    steady = record(iterations=600, vus=200, least=2)
    fine = records.judged_against_ceiling(
        steady,
        ceiling_iterations_per_s=16.0,
        series_pairs_per_s=[16.0, 16.0],
        ceilings=[measured_ceiling(16.0, 8.4, "before shared-host")],
    )
    assert fine.sound, fine.unsound_reasons
    judged = records.judged_against_ceiling(
        steady,
        ceiling_iterations_per_s=16.0,
        series_pairs_per_s=[16.0, 16.0],
        ceilings=[
            measured_ceiling(16.0, 8.4, "before shared-host"),
            measured_ceiling(7.9, 8.4, "after x"),
        ],
    )
    assert not judged.sound
    assert judged.unsound_reasons == (
        "the bcrypt ceiling measured after x did 7.90 pairs/s on 2 threads, fewer than 8.40 "
        "on one: the machine was busy while it was measured",
    )


def test_a_cpu_limited_run_on_a_mostly_idle_host_is_not_called_busy() -> None:
    # 0.5 CPU per instance: the host is 30 % busy, and the kernel's own threads are a large
    # share of that little busy time but a small share of what the host could do.
    idle = records.measured_run(
        loadgen_output(iterations=600, vus=40, least=2),
        topology="single",
        instances=1,
        balancer=False,
        repeat=0,
        cpu={
            "cpu_seconds": {"service_1": 22.0, "loadgen": 3.0},
            "host": {"cpu_seconds_busy": 30.0, "utilisation": 0.3},
        },
        ceiling_iterations_per_s=4.0,
    )
    assert not any("other processes" in r for r in idle.unsound_reasons)
