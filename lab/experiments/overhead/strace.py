"""System calls of the service counted by ``strace -c -f`` (ptrace stops the service at
every call, so this runs in a phase of its own, never in the measured window)."""

from __future__ import annotations

import sys
from typing import ClassVar

from lab.experiments.overhead.attached import AttachedTool
from lab.harness import procs

STRACE_MISSING = "strace is not on PATH: system calls per iteration are skipped"


def parse_strace(text: str) -> dict[str, int]:
    """syscall → calls from ``strace -c`` output (its errors column may be blank)."""
    counts = {}
    for line in text.splitlines():
        tokens = line.split()
        if (
            len(tokens) in (5, 6)
            and tokens[0].replace(".", "", 1).isdigit()
            and tokens[3].isdigit()
            and tokens[-1] != "total"
        ):
            counts[tokens[-1]] = int(tokens[3])
    return counts


class Strace(AttachedTool):
    """``strace -c -f -p PID`` from start() to stop()."""

    tool: ClassVar[str] = "strace"

    def argv(self) -> list[str]:
        return ["strace", "-c", "-f", "-o", str(self.run_dir / "strace.txt"), "-p", str(self.pid)]

    def counts(self) -> dict[str, int] | None:
        out = self.run_dir / "strace.txt"
        found = parse_strace(out.read_text()) if self.ended and out.exists() else {}
        if self.ended and not found:
            log = procs.log_tail(self.log, 3)
            print(f"strace counted nothing for pid {self.pid}: {log}", file=sys.stderr)
        return found or None
