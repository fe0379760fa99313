"""What strace and py-spy share: a tool attached to the service's pid from start() to
stop(), in a phase of its own; SIGINT makes it detach, write its output and exit."""

from __future__ import annotations

import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from lab.harness import procs


@dataclass
class AttachedTool:
    pid: int
    run_dir: Path
    proc: subprocess.Popen[bytes] | None = None
    #: Wall-clock times it was started and stopped (0 until then).
    began: float = 0.0
    ended: float = 0.0
    #: Its name, which names its log in ``run_dir``.
    tool: ClassVar[str]

    @property
    def log(self) -> Path:
        return self.run_dir / f"{self.tool}.log"

    def argv(self) -> list[str]:
        raise NotImplementedError

    def start(self) -> None:
        self.proc = procs.spawn(self.argv(), log_path=self.log)
        self.began = time.time()

    def stop(self) -> None:
        if self.proc is not None and not self.ended:
            self.ended = time.time()
            procs.stop(self.proc, sig=signal.SIGINT, timeout=15)
