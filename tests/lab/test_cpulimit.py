"""CPU limits: a busy-loop child gets the share its quota allows, and no more."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

from lab.errors import CpuLimitError
from lab.harness import cpuacct, cpulimit, procs

BUSY = "import time\nend = time.monotonic() + 30\nwhile time.monotonic() < end: pass\n"


def _limiter_or_skip(cpus: float) -> cpulimit.CpuLimiter:
    try:
        limiter = cpulimit.choose(cpus, tag=f"authscale-test-{os.getpid()}", allow_pinning=False)
    except CpuLimitError as exc:
        pytest.skip(f"no writable cgroup here: {exc}")
    return limiter


@pytest.mark.slow
def test_a_busy_child_gets_half_a_cpu_within_15_percent(tmp_path: Path) -> None:
    limiter = _limiter_or_skip(0.5)
    try:
        child = procs.spawn(
            [sys.executable, "-c", BUSY],
            log_path=tmp_path / "busy.log",
            cgroup_procs=limiter.procs_file("busy"),
        )
        try:
            time.sleep(0.5)
            before = cpuacct.tree_cpu_seconds(child.pid)
            began = time.monotonic()
            time.sleep(3.0)
            share = (cpuacct.tree_cpu_seconds(child.pid) - before) / (time.monotonic() - began)
        finally:
            procs.stop(child)
    finally:
        limiter.cleanup()
    assert share == pytest.approx(0.5, rel=0.15)
    assert not limiter.groups


def test_an_unlimited_busy_child_uses_a_whole_core(tmp_path: Path) -> None:
    child = procs.spawn([sys.executable, "-c", BUSY], log_path=tmp_path / "busy.log")
    try:
        time.sleep(0.3)
        before = cpuacct.tree_cpu_seconds(child.pid)
        time.sleep(1.0)
        used = cpuacct.tree_cpu_seconds(child.pid) - before
    finally:
        procs.stop(child)
    assert used > 0.6


def test_limits_that_cannot_be_met_are_refused() -> None:
    with pytest.raises(CpuLimitError, match="must be positive"):
        cpulimit.choose(0)
    with pytest.raises(CpuLimitError, match="exceeds"):
        cpulimit.choose(len(os.sched_getaffinity(0)) + 1)


def test_pinning_hands_out_whole_cores_round_robin() -> None:
    limiter = cpulimit.CpuLimiter(method="pinning", cpus=1, cores=[0, 1])
    assert [limiter.core_set() for _ in range(3)] == [{0}, {1}, {0}]
    assert limiter.procs_file("x") is None
