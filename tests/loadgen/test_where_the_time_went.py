"""Server-Timing aggregation: per-step phase trends, the remainder, JSON, summary, thresholds."""

import orjson
import pytest

from loadgen.config import LoadConfig
from loadgen.result import THRESHOLDS_FAILED_EXIT_CODE, RunResult
from loadgen.stats import Recorder, merge_recorders
from loadgen.summary import render_summary
from loadgen.thresholds import parse_threshold
from tests.loadgen.samples import synthetic_monitor

MS = 1_000_000


def login_header(i: int) -> str:
    """hash-wait grows with i: 10, 20, ... 200 ms; app = the phases + 1 ms."""
    wait = 10.0 * (i + 1)
    return f"hash-wait;dur={wait:.2f}, hash;dur=60.00, db;dur=1.00, app;dur={wait + 62:.2f}"


def record(recorder: Recorder, *, count: int = 20, offset: int = 0, warmup_ms: int = 0) -> None:
    """``count`` logins (client duration = app + 5 ms) and refreshes without the header."""
    clock = warmup_ms * MS
    for i in range(offset, offset + count):
        app_ms = 10.0 * (i + 1) + 62
        took = int((app_ms + 5) * MS)
        login = recorder.steps["login"]
        recorder.record_request(login, clock, clock + took, clock + took, 0, 0, True, 1, 1,
                                login_header(i))  # fmt: skip
        clock += took
        refresh = recorder.steps["refresh"]
        recorder.record_request(refresh, clock, clock + MS, clock + MS, 0, 0, True, 1, 1)
        clock += MS


def result_of(recorder: Recorder, *thresholds: str) -> RunResult:
    config = LoadConfig(
        target="http://127.0.0.1:8000",
        vus=1,
        duration_s=60.0,
        thresholds=tuple(parse_threshold(t) for t in thresholds),
    )
    recorder.duration_ns = 60_000 * MS
    return RunResult(
        config=config,
        recorder=recorder,
        monitors=[synthetic_monitor(40)],
        started_at="2026-01-01T00:00:00.000+00:00",
    )


def fresh(warmup_s: float = 0.0) -> Recorder:
    recorder = Recorder()
    recorder.start(0, warmup_s, 60.0)
    return recorder


def test_each_phase_of_each_step_gets_a_histogram_and_the_remainder_is_what_is_left() -> None:
    recorder = fresh()
    record(recorder)
    login = recorder.steps["login"].server_timing
    assert list(login) == ["hash_wait", "hash", "db", "app", "remainder"]
    assert login["hash_wait"].count == 20
    assert login["hash_wait"].min == 10_000
    assert login["hash_wait"].max == 200_000
    assert login["hash"].mean_us == 60_000
    assert login["remainder"].min == login["remainder"].max == 5_000
    assert recorder.steps["refresh"].server_timing == {}


def test_the_balancer_s_entries_are_the_outermost_server_time() -> None:
    recorder = fresh()
    header = "app;dur=50.00, lb-queue;dur=2.00, lb-connect;dur=0.50, lb-ttfb;dur=51.00"
    stats = recorder.steps["signup"]
    recorder.record_request(stats, 0, 60 * MS, 60 * MS, 0, 0, True, 1, 1, header)
    # 60 ms at the client - (2 + 0.5 + 51) ms at the balancer
    assert stats.server_timing["remainder"].max == 6_500
    assert stats.server_timing["lb_ttfb"].max == 51_000


def test_a_header_without_app_or_balancer_entries_gives_no_remainder() -> None:
    recorder = fresh()
    stats = recorder.steps["signup"]
    recorder.record_request(stats, 0, 9 * MS, 9 * MS, 0, 0, True, 1, 1, "db;dur=1.5")
    recorder.record_request(stats, 0, 9 * MS, 9 * MS, 0, 0, True, 1, 1, "garbage")
    assert list(stats.server_timing) == ["db"]
    assert stats.server_timing["db"].count == 1


def test_the_warm_up_is_left_out() -> None:
    recorder = fresh(warmup_s=1.0)
    stats = recorder.steps["login"]
    recorder.record_request(stats, 0, 5 * MS, 5 * MS, 0, 0, True, 1, 1, "app;dur=4")
    assert stats.server_timing == {}
    later = 2_000 * MS
    recorder.record_request(stats, later, later + 5 * MS, later + 5 * MS, 0, 0, True, 1, 1,
                            "app;dur=4")  # fmt: skip
    assert stats.server_timing["app"].count == 1


def test_processes_merge_exactly() -> None:
    whole, first, second = fresh(), fresh(), fresh()
    record(whole, count=20)
    record(first, count=8)
    record(second, count=12, offset=8)
    wire = [orjson.loads(orjson.dumps(r.to_wire())) for r in (first, second)]
    merged = merge_recorders(Recorder.from_wire(w) for w in wire)
    for key, histogram in whole.steps["login"].server_timing.items():
        other = merged.steps["login"].server_timing[key]
        assert (other.count, other.total, other.min, other.max) == (
            histogram.count,
            histogram.total,
            histogram.min,
            histogram.max,
        )
        assert other.percentiles((50, 95)) == histogram.percentiles((50, 95))


def test_json_carries_k6_style_trends_and_the_convenience_object() -> None:
    recorder = fresh()
    record(recorder)
    data = orjson.loads(result_of(recorder).to_json())
    metrics = data["metrics"]
    wait = metrics["server_timing_hash_wait{step:login}"]
    assert wait["type"] == "trend"
    assert wait["contains"] == "time"
    assert set(wait["values"]) == {"avg", "min", "med", "max", "p(90)", "p(95)", "p(99)"}
    assert wait["values"]["avg"] == pytest.approx(105.0)
    assert wait["values"]["max"] == 200.0
    assert metrics["server_timing_remainder{step:login}"]["values"]["avg"] == 5.0
    assert "server_timing_hash_wait" in metrics  # all steps together, like k6's parent
    assert not any(name.endswith("{step:refresh}") and "server_timing" in name for name in metrics)
    where = data["where_the_time_went"]
    assert list(where) == ["login"]
    assert list(where["login"]) == ["hash_wait", "hash", "db", "app", "remainder"]
    assert where["login"]["hash"] == {"avg": 60.0, "p(95)": 60.0}
    assert where["login"]["hash_wait"]["p(95)"] == wait["values"]["p(95)"]
    # the outermost phase and the remainder add up to what the client measured
    duration = metrics["http_req_duration{step:login}"]["values"]["avg"]
    assert where["login"]["app"]["avg"] + where["login"]["remainder"]["avg"] == pytest.approx(
        duration, abs=0.01
    )


def test_no_header_no_block() -> None:
    recorder = fresh()
    stats = recorder.steps["login"]
    recorder.record_request(stats, 0, 5 * MS, 5 * MS, 0, 0, True, 1, 1)
    data = result_of(recorder).summary_data()
    assert data["where_the_time_went"] == {}
    assert not any(name.startswith("server_timing") for name in data["metrics"])
    assert "WHERE THE TIME WENT" not in render_summary(data)


def test_summary_block_lists_phases_then_the_remainder_then_the_client_duration() -> None:
    recorder = fresh()
    record(recorder)
    text = render_summary(result_of(recorder).summary_data())
    block = text[text.index("█ WHERE THE TIME WENT") : text.index("█ LOAD GENERATOR")]
    lines = [line.strip() for line in block.splitlines() if line.strip()]
    start = lines.index("login")
    names = [line.split(".")[0] for line in lines[start + 1 : start + 7]]
    assert names == [
        "hash_wait",
        "hash",
        "db",
        "app",
        "remainder (outside the handlers)",
        "http_req_duration (client)",
    ]
    assert "avg=105.00ms  p(95)=" in lines[start + 1]
    assert "avg=5.00ms" in lines[start + 5]
    assert "HTTP layers, event-loop" in block


def test_thresholds_can_name_a_phase_of_a_step() -> None:
    recorder = fresh()
    record(recorder)
    result = result_of(
        recorder,
        "server_timing_hash_wait{step:login}:p(95)<100",
        "server_timing_hash{step:login}:avg<100",
        "server_timing_remainder{step:login}:max<=5",
    )
    metrics = result.summary_data()["metrics"]
    assert metrics["server_timing_hash_wait{step:login}"]["thresholds"] == {
        "p(95)<100": {"ok": False}
    }
    assert metrics["server_timing_hash{step:login}"]["thresholds"] == {"avg<100": {"ok": True}}
    assert metrics["server_timing_remainder{step:login}"]["thresholds"] == {"max<=5": {"ok": True}}
    assert result.exit_code == THRESHOLDS_FAILED_EXIT_CODE
    assert "✗ 'p(95)<100' p(95)=" in render_summary(result.summary_data())


def test_a_threshold_on_a_phase_never_reported_fails() -> None:
    recorder = fresh()
    record(recorder)
    result = result_of(recorder, "server_timing_lb_queue{step:login}:p(95)<100")
    metric = result.summary_data()["metrics"]["server_timing_lb_queue{step:login}"]
    assert metric["thresholds"] == {"p(95)<100": {"ok": False}}
    assert result.exit_code == THRESHOLDS_FAILED_EXIT_CODE
    summary = render_summary(result.summary_data())
    assert "✗ 'p(95)<100' the target never reported lb_queue" in summary
