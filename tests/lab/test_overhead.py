"""bench-overhead: the service's CPU per iteration split by thread, from two samples of its
threads; system calls from strace's summary; and one short real run end to end."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from lab.errors import LabError
from lab.experiments import loadrun
from lab.experiments.overhead.measure import load_spec, lone_hash_cpu_ms
from lab.experiments.overhead.profile import EVENT_LOOP, category, py_spy, shares
from lab.experiments.overhead.rows import Row, iterations_between, overhead_row
from lab.experiments.overhead.settings import OverheadConfig
from lab.experiments.overhead.strace import parse_strace
from lab.experiments.overhead.table import render
from lab.experiments.overhead.threads import ThreadSample, interpolate
from loadgen.config import config_from_args

REPO = Path(__file__).resolve().parents[2]
MAIN, HASH_1, HASH_2, LATE = 100, 101, 102, 103

STRACE_OUTPUT = """\
% time     seconds  usecs/call     calls    errors syscall
------ ----------- ----------- --------- --------- ----------------
 61.20    0.412000          41     10000           epoll_pwait
 20.10    0.135000          27      5000           futex
 10.00    0.067000          22      3000       120 read
  8.70    0.058000          19      3000           write
------ ----------- ----------- --------- --------- ----------------
100.00    0.672000          32     21000       120 total
"""


def two_samples() -> tuple[ThreadSample, ThreadSample]:
    start = ThreadSample(
        at=0.0,
        threads={MAIN: (10.0, 100, 50), HASH_1: (20.0, 10, 5), HASH_2: (20.0, 10, 5)},
        io=(1000, 2000),
    )
    end = ThreadSample(
        at=10.0,
        # 100 iterations: main +0.8 s; hashing threads +1.0 s each; a thread that started
        # inside the window +0.3 s, counted from zero.
        threads={
            MAIN: (10.8, 600, 250),
            HASH_1: (21.0, 110, 55),
            HASH_2: (21.0, 110, 55),
            LATE: (0.3, 100, 0),
        },
        io=(2500, 3700),
    )
    return start, end


def a_row(**changes: object) -> Row:
    start, end = two_samples()
    args: dict[str, object] = {
        "vus": 200,
        "start": start,
        "end": end,
        "main_tid": MAIN,
        "process_cpu_s": 3.2,
        "iterations": 100,
        "window_s": 10.0,
        "lone_hash_ms": 10.0,
    }
    return overhead_row(**(args | changes))  # type: ignore[arg-type]


def test_the_cpu_outside_bcrypt_splits_into_the_main_thread_and_the_hashing_excess() -> None:
    row = a_row()
    assert row.iterations_per_s == pytest.approx(10.0)
    assert row.cpu_ms_per_it == pytest.approx(32.0)
    # 32 ms − 2 hashes × 10 ms of a lone thread.
    assert row.outside_bcrypt_ms_per_it == pytest.approx(12.0)
    assert row.main_ms_per_it == pytest.approx(8.0)
    # The other threads used 2.3 s over 200 hashes: 11.5 ms each, 3 ms per iteration beyond
    # two lone hashes.
    assert row.other_threads_ms_per_hash == pytest.approx(11.5)
    assert row.hashing_excess_ms_per_it == pytest.approx(3.0)
    assert row.unattributed_ms_per_it == pytest.approx(32.0 - 8.0 - 23.0)
    assert row.threads_cpu_s["main"] == pytest.approx(0.8)
    assert row.threads_cpu_s[str(LATE)] == pytest.approx(0.3)


def test_context_switches_count_every_thread_not_only_the_main_one() -> None:
    ctx = a_row().ctx_per_it
    assert ctx["main_voluntary"] == pytest.approx(5.0)
    assert ctx["main_involuntary"] == pytest.approx(2.0)
    assert ctx["voluntary"] == pytest.approx((500 + 100 + 100 + 100) / 100)
    assert ctx["involuntary"] == pytest.approx((200 + 50 + 50) / 100)
    assert a_row().io_per_it == {"read": pytest.approx(15.0), "write": pytest.approx(17.0)}


def test_a_window_without_iterations_is_an_error_not_a_division() -> None:
    with pytest.raises(LabError, match="no iteration completed"):
        a_row(iterations=0)


def test_system_calls_are_per_traced_iteration_and_ranked() -> None:
    row = a_row(syscalls=parse_strace(STRACE_OUTPUT), strace_iterations=50.0)
    assert row.syscalls_per_it is not None
    assert list(row.syscalls_per_it) == ["epoll_pwait", "futex", "read", "write"]
    assert row.syscalls_per_it["epoll_pwait"] == pytest.approx(200.0)
    assert a_row(syscalls={"read": 1}, strace_iterations=0.0).syscalls_per_it is None


def test_strace_summary_is_parsed_with_and_without_its_errors_column() -> None:
    counts = parse_strace(STRACE_OUTPUT + "strace: Process 42 detached\n")
    assert counts == {"epoll_pwait": 10000, "futex": 5000, "read": 3000, "write": 3000}
    assert parse_strace("") == {}


def test_interpolation_cuts_the_samples_at_the_window_edge() -> None:
    start, end = two_samples()
    middle = interpolate([start, end], 5.0)
    assert middle.threads[MAIN] == pytest.approx((10.4, 350, 150))
    assert middle.threads[LATE] == pytest.approx((0.15, 50, 0))
    assert middle.io == pytest.approx((1750, 2850))
    assert interpolate([start, end], -3.0) is start
    assert interpolate([start, end], 99.0) is end
    gone = ThreadSample(at=10.0, threads={MAIN: (11.0, 0, 0)}, io=(0, 0))
    assert interpolate([start, gone], 5.0).threads[HASH_1] == pytest.approx((20.0, 10, 5))
    with pytest.raises(LabError):
        interpolate([], 1.0)


def test_iterations_between_spreads_each_second_over_itself() -> None:
    result = {
        "window": {"start_epoch_s": 1005.0, "warmup_s": 5.0},
        "timeseries": {"t": [0, 1, 2, 3], "iterations": [10, 20, 30, 40]},
    }
    assert iterations_between(result, 1000.0, 1004.0) == pytest.approx(100.0)
    assert iterations_between(result, 1001.5, 1002.5) == pytest.approx(10.0 + 15.0)
    assert iterations_between(result, 0.0, 0.0) == 0.0


@pytest.mark.parametrize("strace_s", [0.0, 8.0])
def test_the_strace_phase_is_warm_up_to_the_load_generator(strace_s: float) -> None:
    cfg = OverheadConfig(warmup_s=10.0, duration_s=30.0, strace_s=strace_s)
    spec = load_spec(cfg, 200, "http://127.0.0.1:1", probes_s=strace_s)
    argv = loadrun.loadgen_argv(spec, Path("out.json"))
    parsed = config_from_args(argv[3:], environ={})
    assert parsed.window_s == pytest.approx(30.0)
    assert parsed.warmup_s == pytest.approx(10.0 + strace_s)
    assert parsed.stages[0].duration_s == pytest.approx(10.0)  # the ramp


def test_the_table_names_every_figure_and_the_missing_strace() -> None:
    cfg = OverheadConfig(vus=(10, 200), bcrypt_cost=10)
    traced = a_row(syscalls=parse_strace(STRACE_OUTPUT), strace_iterations=50.0)
    text = render([a_row(vus=10), traced], cfg)
    assert "| 200 | 10.00 | 32.0 | 12.00 | 8.00 | 3.00 | 11.50 | 10.00 |" in text
    assert "| epoll_pwait | 200.0 |" in text
    assert "| all | 420.0 |" in text
    assert "strace is not on PATH" in render([a_row()], cfg, "strace is not on PATH: …")


def test_server_timing_phases_come_in_handler_order_with_the_remainder_last() -> None:
    phases = {
        "signup": {"remainder": 3.0, "app": 20.0, "db": 7.5, "hash": 10.0, "hash_wait": 1.0},
        "login": {"jwt": 0.5, "redis": 2.0, "app": 25.0, "remainder": 3.0},
    }
    text = render([replace(a_row(), phases_ms=phases)], OverheadConfig())
    assert "| VUs | step | hash_wait | hash | db | redis | jwt | app | remainder |" in text
    assert "| 200 | signup | 1.00 | 10.00 | 7.50 | – | – | 20.00 | 3.00 |" in text


def test_a_lone_threads_hash_is_timed_by_its_cpu_clock() -> None:
    cost_4, cost_6 = lone_hash_cpu_ms(4), lone_hash_cpu_ms(6)
    assert 0 < cost_4 < cost_6
    assert cost_6 / cost_4 > 2  # bcrypt doubles its work per cost step


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"vus": ()}, "--vus"),
        ({"vus": (0,)}, "--vus"),
        ({"bcrypt_cost": 3}, "--bcrypt-rounds"),
        ({"duration_s": 0.0}, "window"),
        ({"strace_s": 2.0}, "--strace-duration"),
        ({"profile_s": 2.0}, "--profile-duration"),
    ],
)
def test_the_configuration_refuses_what_cannot_be_measured(
    changes: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        OverheadConfig(**changes)  # type: ignore[arg-type]


@pytest.mark.e2e
@pytest.mark.slow
def test_a_short_real_run_writes_its_table_and_json(
    tmp_path: Path, database_url: str, redis_url: str
) -> None:
    strace = shutil.which("strace") is not None
    profiler = py_spy() is not None
    env = {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": redis_url}
    env["LAB_STATE_DIR"] = str(tmp_path / "state")
    argv = [sys.executable, "-m", "lab", "bench-overhead", "--vus", "2", "--duration", "2s"]
    argv += ["--warmup", "1s", "--bcrypt-rounds", "4", "--graceful-stop", "5s"]
    argv += ["--strace-duration", "3s" if strace else "0", "--out", str(tmp_path)]
    argv += ["--profile-duration", "3s" if profiler else "0"]
    done = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    folder = Path(done.stdout.strip().splitlines()[-1].removeprefix("report: "))
    document = json.loads((folder / "overhead.json").read_text())
    (row,) = document["rows"]
    assert row["vus"] == 2
    assert row["iterations"] > 0
    # The threads' CPU adds up to the process's, within sampling error.
    assert abs(row["unattributed_ms_per_it"]) < 0.5 * row["cpu_ms_per_it"]
    assert row["main_ms_per_it"] > 0
    assert row["other_threads_ms_per_hash"] > 0
    assert row["ctx_per_it"]["voluntary"] > 0
    assert set(row["phases_ms"]) == {"signup", "login", "refresh", "logout"}
    if strace:
        assert row["syscalls_per_it"], done.stderr[-3000:]
        assert row["strace_span_s"][1] < 0  # strace detached before the window opened
    if profiler:
        assert row["profile_samples"] > 0, done.stderr[-3000:]
        assert sum(row["profile_ms_per_it"].values()) == pytest.approx(row["main_ms_per_it"])
    assert "| 2 |" in (folder / "overhead.md").read_text()


PY_SPY_RAW = """\
_run_module_as_main (<frozen runpy>:198);main (service/__main__.py:63);_run_server_forever \
(sanic/server/runners.py:210) 50
_run_module_as_main (<frozen runpy>:198);_run_server_forever (sanic/server/runners.py:210);\
connection_task (connection_task:15);handle_request (handle_request:99);send (send:3) 20
Routes.login (service/routes.py:120);SessionStore.create (service/sessions.py:88);\
Redis.execute_command (redis/asyncio/client.py:700);StreamWriter.writelines \
(asyncio/streams.py:340) 15
Routes.refresh (service/routes.py:174);AccessTokens.issue (service/tokens.py:130);\
PyJWT.encode (jwt/api_jwt.py:90) 10
Routes.signup (service/routes.py:80);_parse (service/routes.py:60) 5
Thread._bootstrap (threading.py:1002);_worker (concurrent/futures/thread.py:83);\
_timed (service/passwords.py:200) 400
"""


def test_the_profile_sorts_the_event_loop_threads_samples_by_where_they_ran() -> None:
    found, samples = shares(PY_SPY_RAW)
    assert samples == 100  # the hashing thread's 400 samples are not the event loop's
    assert found == {
        EVENT_LOOP: 0.5,
        "HTTP server (Sanic: parsing, routing, writing responses)": 0.2,
        "Redis client (redis-py, hiredis)": 0.15,  # asyncio's writelines, on redis's behalf
        "JWT, MACs, randomness": 0.1,
        "the service's own code (routes, sessions, throttle)": 0.05,
    }
    assert next(iter(found)) == EVENT_LOOP  # largest first
    assert category(["_run_module_as_main (<frozen runpy>:198)"]) == EVENT_LOOP
    assert category(["f (somewhere/else.py:1)"]) == "other"
    assert shares("") == ({}, 0)


def test_the_profile_table_gives_ms_per_iteration_and_shares() -> None:
    row = a_row(profile=({EVENT_LOOP: 0.75, "logging": 0.25}, 400))
    assert row.profile_ms_per_it == pytest.approx({EVENT_LOOP: 6.0, "logging": 2.0})  # of 8 ms
    text = render([row], OverheadConfig())
    assert f"| {EVENT_LOOP} | 6.00 (75 %) |" in text
    assert "| samples | 400 |" in text
    assert "py-spy" not in render([a_row()], OverheadConfig())


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--duration", "soon"], "argument --duration: invalid duration"),
        (["--bcrypt-rounds", "3"], "bcrypt takes a cost of 4..31"),
        (["--vus", "0"], "--vus takes VU counts of at least 1"),
        (["--strace-duration", "2s"], "--strace-duration must be 0"),
    ],
)
def test_options_that_cannot_be_measured_are_usage_errors_before_anything_starts(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from lab.experiments.overhead.command import main

    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    assert message in capsys.readouterr().err
