import orjson

from loadgen.metrics import METRICS
from loadgen.result import THRESHOLDS_FAILED_EXIT_CODE
from tests.loadgen.samples import synthetic_result


def test_json_has_k6_summary_shape_plus_our_blocks() -> None:
    data = orjson.loads(synthetic_result().to_json())
    assert set(data) >= {
        "metrics",
        "root_group",
        "options",
        "state",
        "window",
        "timeseries",
        "loadgen",
        "config",
        "thresholds_ok",
    }
    assert data["state"]["testRunDurationMs"] == 2500
    duration = data["metrics"]["http_req_duration"]
    assert duration["type"] == "trend"
    assert duration["contains"] == "time"
    assert set(duration["values"]) >= {"avg", "min", "med", "max", "p(90)", "p(95)", "p(99)"}
    assert data["metrics"]["http_reqs"]["values"] == {"count": 152, "rate": 152 / 2.5}
    assert data["metrics"]["http_req_failed"]["values"] == {
        "rate": 4 / 152,
        "passes": 4,
        "fails": 148,
    }
    assert data["metrics"]["http_reqs{step:refresh}"]["values"]["count"] == 36
    assert data["metrics"]["vus"]["values"] == {"value": 2, "min": 2, "max": 2}
    for name in data["metrics"]:
        assert name.split("{")[0] in METRICS


def test_thresholds_are_attached_and_decide_the_exit_code() -> None:
    result = synthetic_result()
    metrics = result.summary_data()["metrics"]
    assert metrics["http_req_duration"]["thresholds"] == {
        "p(95)<500": {"ok": True},
        "p(99.9)<1000": {"ok": True},
    }
    assert metrics["http_req_duration"]["values"]["p(99.9)"] == 4.6
    assert metrics["http_req_failed{step:login}"]["thresholds"] == {"rate<0.05": {"ok": False}}
    assert result.thresholds_ok is False
    assert result.exit_code == THRESHOLDS_FAILED_EXIT_CODE


def test_checks_in_root_group() -> None:
    checks = {c["name"]: c for c in synthetic_result().summary_data()["root_group"]["checks"]}
    assert checks["login status is 200"]["passes"] == 36
    assert checks["login status is 200"]["fails"] == 4
    assert checks["login status is 200"]["path"] == "::login status is 200"


def test_window_and_timeseries_let_a_consumer_judge_the_run() -> None:
    data = synthetic_result().summary_data()
    window = data["window"]
    assert window["duration_s"] == 2.0
    assert window["iterations_started"] == 41
    assert window["iterations_interrupted"] == 1
    assert window["min_iterations_per_vu"] == window["max_iterations_per_vu"] == 20
    series = data["timeseries"]
    assert series["t"] == list(range(len(series["t"])))
    assert sum(series["http_reqs"]) == 152
    assert sum(series["iterations"]) == 40
    assert len(series["http_req_duration_p95"]) == len(series["t"])
    assert "http_req_duration_corrected_p95" not in series
    assert series["loadgen_cpu_percent"][0] == 10.0


def test_open_model_reports_corrected_latency_beside_service_time() -> None:
    data = synthetic_result(open_model=True).summary_data()
    service = data["metrics"]["http_req_duration"]["values"]
    corrected = data["metrics"]["http_req_duration_corrected"]["values"]
    assert corrected["min"] >= service["min"] + 2.0
    assert "iteration_duration_corrected" in data["metrics"]
    assert "http_req_duration_corrected_p95" in data["timeseries"]
    assert data["loadgen"]["latency_model"].startswith("open model")


def test_generator_bottleneck_is_flagged() -> None:
    loadgen = synthetic_result().summary_data()["loadgen"]
    assert loadgen["bottleneck"] is True
    assert any("event-loop lag" in w for w in loadgen["warnings"])
    assert loadgen["processes"][0]["loop_lag_ms"]["p99"] == 15.0
