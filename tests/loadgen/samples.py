"""Deterministic run results for the pure tests (no sockets, no clocks)."""

from __future__ import annotations

from loadgen.config import LoadConfig
from loadgen.histogram import Histogram
from loadgen.monitor import MonitorReport
from loadgen.result import RunResult
from loadgen.scenario import BODY_CHECKS, STATUS_CHECKS
from loadgen.stats import STEPS, Recorder
from loadgen.thresholds import parse_threshold

MS = 1_000_000


def synthetic_recorder(iterations: int = 40, open_model: bool = False) -> Recorder:
    """``iterations`` iterations over 2 s by 2 VUs; every 10th fails at login."""
    recorder = Recorder()
    recorder.start(0, 0.0, 2.0, 1_767_225_600.0)
    recorder.set_vus(2, 2)
    for vu_id in (1, 2):
        recorder.add_vu(vu_id)
    clock = 0
    for i in range(iterations):
        vu_id = 1 + i % 2
        recorder.begin_iteration()
        start = clock
        intended = start - 2 * MS if open_model else 0
        failed = False
        for n, step in enumerate(STEPS):
            took = (1 + n) * MS + (i % 7) * 100_000
            connect = MS // 2 if i < 2 and step == "signup" else 0
            ok = not (step == "login" and i % 10 == 9)
            recorder.record_request(
                recorder.steps[step],
                clock,
                clock + took - 200_000,
                clock + took,
                intended,
                connect,
                ok,
                200,
                300,
                cause=None if ok else "HTTP 500",
            )
            if intended:
                intended += took
            recorder.check(STATUS_CHECKS[step], ok)
            if step in BODY_CHECKS and ok:
                recorder.check(BODY_CHECKS[step], True)
            clock += took
            if not ok:
                failed = True
                break
        recorder.end_iteration(vu_id, start, clock, start - 2 * MS if open_model else 0, failed)
        clock += 40 * MS
    recorder.begin_iteration()
    recorder.duration_ns = 2_500 * MS
    for index, second in enumerate(recorder.seconds):
        second.vus = 2
        second.cpu_s = 0.1 * (index + 1)
        second.loop_lag_max_us = 500 * (index + 1)
    return recorder


def synthetic_monitor(requests: int) -> MonitorReport:
    lag = Histogram()
    for value in (200, 300, 400, 1200, 15_000):
        lag.record(value)
    own = Histogram()
    for value in (100, 200, 300, 1000, 14_000):
        own.record(value)
    return MonitorReport(
        wall_s=2.5, cpu_s=0.75, requests=requests, loop_lag=lag, own_lag=own, max_rss_kib=1
    )


def synthetic_result(open_model: bool = False) -> RunResult:
    thresholds = (
        parse_threshold("http_req_duration:p(95)<500"),
        parse_threshold("http_req_failed{step:login}:rate<0.05"),
        parse_threshold("http_req_duration:p(99.9)<1000"),
    )
    config = LoadConfig(
        target="http://127.0.0.1:8000",
        vus=2,
        duration_s=2.0,
        rate=20.0 if open_model else None,
        run_id="golden",
        thresholds=thresholds,
    )
    recorder = synthetic_recorder(open_model=open_model)
    requests = sum(stats.requests for stats in recorder.steps.values())
    return RunResult(
        config=config,
        recorder=recorder,
        monitors=[synthetic_monitor(requests)],
        started_at="2026-01-01T00:00:00.000+00:00",
    )
