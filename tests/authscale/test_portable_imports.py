"""service, balancer and loadgen must run on macOS: nothing on their import and configuration
path may need a Linux-only call. Checked here by removing those calls from `os` in a child
interpreter before the programs are imported."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

WITHOUT_LINUX = """
import os, sys
for name in ("sched_getaffinity", "sched_setaffinity", "pidfd_open", "memfd_create"):
    if hasattr(os, name):
        delattr(os, name)
from {program}.__main__ import main
sys.exit(main(["--help"]))
"""


@pytest.mark.parametrize("program", ["service", "balancer", "loadgen"])
def test_programs_configure_without_linux_only_calls(program: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", WITHOUT_LINUX.format(program=program)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"usage: python -m {program}")


def test_the_service_counts_cpus_without_affinity() -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import os; del os.sched_getaffinity\n"
            "from service.config import usable_cpus; print(usable_cpus())",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert int(done.stdout) >= 1
