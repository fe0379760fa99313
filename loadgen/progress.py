"""Live progress: one rewritten line on a terminal, plain periodic lines otherwise.

:func:`format_progress` is pure; :class:`Progress` decides when and how to write. It is fed
:class:`~loadgen.snapshot.Snapshot` objects (about twice a second) by the runner.
"""

from __future__ import annotations

import sys
from typing import TextIO

from loadgen.snapshot import Snapshot

PLAIN_INTERVAL_S = 5.0


def format_progress(now: Snapshot, before: Snapshot | None, total_s: float) -> str:
    """``running 4.0s/10s  VUs 200/200  iterations 1234 (2 failed)  req/s 345.6 ...``."""
    rate = 0.0
    if before is not None and now.elapsed_s > before.elapsed_s:
        rate = (now.requests - before.requests) / (now.elapsed_s - before.elapsed_s)
    failed = 100 * now.requests_failed / now.requests if now.requests else 0.0
    text = (
        f"running {now.elapsed_s:5.1f}s/{total_s:g}s  VUs {now.vus}/{now.vus_max}  "
        f"iterations {now.iterations} ({now.iterations_failed} failed)  "
        f"req/s {rate:7.1f}  failed reqs {failed:.2f}%"
    )
    if now.dropped:
        text += f"  dropped {now.dropped}"
    return text


class Progress:
    """Writes progress to ``stream`` (stderr by default) unless disabled."""

    def __init__(self, total_s: float, stream: TextIO | None = None, enabled: bool = True):
        self._stream = stream if stream is not None else sys.stderr
        self._tty = self._stream.isatty()
        self._total_s = total_s
        self._enabled = enabled
        self._previous: Snapshot | None = None
        self._last_printed: Snapshot | None = None
        self._width = 0

    def update(self, snapshot: Snapshot) -> None:
        if not self._enabled:
            return
        if self._tty:
            line = format_progress(snapshot, self._previous, self._total_s)
            self._stream.write("\r" + line.ljust(self._width))
            self._width = len(line)
            self._stream.flush()
        elif (
            self._last_printed is None
            or snapshot.elapsed_s - self._last_printed.elapsed_s >= PLAIN_INTERVAL_S
        ):
            line = format_progress(snapshot, self._last_printed, self._total_s)
            self._stream.write(line + "\n")
            self._stream.flush()
            self._last_printed = snapshot
        self._previous = snapshot

    def finish(self) -> None:
        if self._enabled and self._tty and self._width:
            self._stream.write("\n")
            self._stream.flush()
