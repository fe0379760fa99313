"""The machine a bench ran on, as results.json describes it."""

from __future__ import annotations

import platform
from pathlib import Path

import psutil

from lab.harness import procs
from lab.reporting.results import Machine


def machine_description() -> Machine:
    model = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return Machine(
        cores=len(procs.usable_cpus()),
        cpu_model=model,
        kernel=platform.release(),
        python=platform.python_version(),
        memory_gib=round(psutil.virtual_memory().total / 2**30, 1),
    )
