"""The harness's process, port and interrupt helpers."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from lab.errors import LabError
from lab.harness import procs
from lab.harness.signals import Foreground


def test_pid_alive_knows_a_live_a_reaped_and_a_group_pid() -> None:
    assert procs.pid_alive(os.getpid())
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    assert not procs.pid_alive(child.pid)
    # 0 and negative pids name process groups: never "one process that runs".
    assert not procs.pid_alive(0)
    assert not procs.pid_alive(-1)


def test_a_process_is_recognised_by_its_folder_and_command_line(tmp_path: Path) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(30)", "marker-xyz"], cwd=tmp_path
    )
    try:
        # The command line shows once the child has finished exec'ing.
        assert procs.wait_until(lambda: procs.cmdline_mentions(child.pid, "marker-xyz"), timeout=5)
        assert procs.works_in(child.pid, tmp_path)
        assert not procs.works_in(child.pid, tmp_path / "elsewhere")
        assert not procs.cmdline_mentions(child.pid, "not-there")
    finally:
        procs.stop(child)


def test_free_port_is_free_and_port_open_sees_a_listener() -> None:
    port = procs.free_port()
    assert not procs.port_open("127.0.0.1", port)
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", port))
        listener.listen()
        assert procs.port_open("127.0.0.1", port)
        assert procs.loopback_listener(f"redis://127.0.0.1:{port}/0") == os.getpid()
    assert procs.loopback_listener("redis://cache.invalid:6379/0") is None


def test_wait_until_stops_when_the_process_is_gone() -> None:
    assert procs.wait_until(lambda: True, timeout=0.1)
    assert not procs.wait_until(lambda: False, timeout=5, alive=lambda: False)


def test_foreground_ends_quietly_on_interrupt_and_reports_lab_errors(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with Foreground() as held:
        raise KeyboardInterrupt
    assert held.exit_code == 0
    with Foreground() as held:
        raise LabError("the thing did not start")
    assert held.exit_code == 1
    assert capsys.readouterr().err == "error: the thing did not start\n"
    with pytest.raises(ValueError, match="not ours"), Foreground():
        raise ValueError("not ours")
