import io

import orjson
import pytest

from loadgen.executors import arrival_time, vus_at
from loadgen.monitor import bottleneck_warnings, contention_notes, own_share_of_lateness
from loadgen.progress import Progress, format_progress
from loadgen.scenario import Tokens, check_response
from loadgen.schedule import Stage
from loadgen.snapshot import Snapshot


@pytest.mark.parametrize(
    ("elapsed", "wanted"), [(0, 0), (5, 50), (10, 100), (15, 100), (25, 50), (30, 0), (99, 0)]
)
def test_ramping_vus_follow_the_stages(elapsed: float, wanted: int) -> None:
    stages = (Stage(10, 100), Stage(10, 100), Stage(10, 0))
    assert vus_at(0, stages, elapsed) == wanted


def test_arrivals_are_evenly_spaced_from_the_phase() -> None:
    assert [arrival_time(1000, 5, 250.0, i) for i in range(3)] == [1005, 1255, 1505]


def test_response_checks() -> None:
    tokens = orjson.dumps({"access_token": "a", "refresh_token": "r"})
    assert check_response("signup", 201, b'{"id": 7, "email": "x"}') == (True, True, 7)
    assert check_response("signup", 409, b"{}") == (False, False, None)
    assert check_response("signup", 201, b"not json")[:2] == (True, False)
    assert check_response("login", 200, tokens) == (True, True, Tokens("a", "r"))
    assert check_response("login", 200, b'{"access_token": "a"}')[:2] == (True, False)
    assert check_response("refresh", 200, b"[]")[:2] == (True, False)
    assert check_response("refresh", 200, tokens, Tokens("a0", "r0"))[1] is True
    assert check_response("refresh", 200, tokens, Tokens("a0", "r"))[:2] == (True, False)
    assert check_response("logout", 204, b"") == (True, True, None)
    assert check_response("logout", 401, b"{}")[0] is False


def test_bottleneck_warnings() -> None:
    assert bottleneck_warnings(0.5, 2.0) == []
    assert "CPU core" in bottleneck_warnings(0.95, 2.0)[0]
    assert "from its own work" in bottleneck_warnings(0.5, 12.0)[0]


def test_lag_from_a_contended_host_is_a_note_not_a_bottleneck() -> None:
    assert contention_notes(30.0, 2.0)[0].startswith("event-loop lag p99 30.0 ms")
    assert contention_notes(30.0, 12.0) == []
    assert contention_notes(5.0, 1.0) == []


def test_lateness_is_ours_only_while_our_thread_was_on_the_cpu() -> None:
    assert own_share_of_lateness(late_ns=20, thread_cpu_ns=30) == 20
    assert own_share_of_lateness(late_ns=20, thread_cpu_ns=3) == 3
    assert own_share_of_lateness(late_ns=0, thread_cpu_ns=3) == 0


def test_progress_line() -> None:
    before = Snapshot(elapsed_s=1.0, requests=100)
    now = Snapshot(
        elapsed_s=2.0,
        vus=5,
        vus_max=10,
        iterations=40,
        iterations_failed=1,
        requests=300,
        requests_failed=3,
        dropped=2,
    )
    line = format_progress(now, before, 10)
    assert "VUs 5/10" in line
    assert "iterations 40 (1 failed)" in line
    assert "req/s   200.0" in line
    assert "failed reqs 1.00%" in line
    assert "dropped 2" in line


def test_progress_prints_plain_lines_every_few_seconds_off_a_terminal() -> None:
    stream = io.StringIO()
    progress = Progress(10, stream)
    for tenth in range(0, 101, 5):
        progress.update(Snapshot(elapsed_s=tenth / 10, requests=tenth))
    progress.finish()
    lines = stream.getvalue().splitlines()
    assert len(lines) == 3
    assert "\r" not in stream.getvalue()


def test_quiet_progress_writes_nothing() -> None:
    stream = io.StringIO()
    progress = Progress(10, stream, enabled=False)
    progress.update(Snapshot(elapsed_s=1))
    assert stream.getvalue() == ""
