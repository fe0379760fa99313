"""bench-service --compare-server-timing: its schedule and its arithmetic, no sockets."""

from __future__ import annotations

import argparse

import pytest

from lab.experiments import timingbench
from lab.experiments.timingcost import (
    TIMING_OFF,
    TIMING_ON,
    Sample,
    interleaved,
    render_timing_cost,
    timing_cost,
)


def sample(target: str, cpu_us: float) -> Sample:
    return Sample(
        target=target,
        rps=100.0,
        requests=1000,
        errors=0,
        cpu_us=cpu_us,
        redis_us=0.0,
        postgres_us=0.0,
    )


def test_each_repeat_runs_both_and_the_first_alternates() -> None:
    order = list(interleaved([TIMING_OFF, TIMING_ON], 3))
    assert order == [
        (0, TIMING_OFF),
        (0, TIMING_ON),
        (1, TIMING_ON),
        (1, TIMING_OFF),
        (2, TIMING_OFF),
        (2, TIMING_ON),
    ]


def test_the_cost_is_the_ratio_of_the_medians() -> None:
    samples = [
        sample(TIMING_OFF, 400.0),
        sample(TIMING_ON, 412.0),
        sample(TIMING_ON, 408.0),
        sample(TIMING_OFF, 1000.0),  # a busy moment: the median ignores it
        sample(TIMING_OFF, 396.0),
        sample(TIMING_ON, 900.0),
    ]
    off, on, ratio = timing_cost(samples)
    assert (off, on) == (400.0, 412.0)
    assert ratio == pytest.approx(1.03)
    args = argparse.Namespace(connections=32, duration=10.0, repeats=3)
    text = render_timing_cost(samples, args)
    assert f"| {TIMING_OFF} | 100 | 400.0 | 0 |" in text
    assert f"| {TIMING_ON} | 100 | 412.0 | 0 |" in text
    assert "Server-Timing on ÷ off: 1.030 (+3.0 % CPU per request" in text


def test_the_in_process_cost_is_shown_as_a_share_of_a_request_without_timing() -> None:
    samples = [sample(TIMING_OFF, 800.0), sample(TIMING_ON, 810.0)]
    args = argparse.Namespace(connections=32, duration=10.0, repeats=1)
    text = render_timing_cost(samples, args, direct_us=8.0)
    assert "costs 8.00 µs per refresh (timeit, best of 7): 1.00 % of 800.0 µs." in text
    assert "fresh instance per run" in text
    assert "costs" not in render_timing_cost(samples, args)


def test_the_in_process_paths_do_what_a_refresh_does_with_and_without_timing() -> None:
    from service import timing

    on, off = timingbench._request_paths()
    head = on()
    assert isinstance(head, bytes)
    assert b"server-timing: redis;dur=" in head.lower()
    assert b", jwt;dur=" in head
    assert b", app;dur=" in head
    assert b"server-timing" not in off().lower()
    assert timing.current() is None  # the recorder is detached as a response goes
    assert timingbench.recorder_cost_us(number=200, repeat=2) > 0.0
