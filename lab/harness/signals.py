"""Turn SIGTERM into KeyboardInterrupt, so one `try/finally` tears down on both."""

from __future__ import annotations

import signal
from types import FrameType


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def interrupt_on_sigterm() -> None:
    signal.signal(signal.SIGTERM, _raise_interrupt)
    # A shell starts background jobs with SIGINT ignored; Ctrl-C must still stop the lab.
    signal.signal(signal.SIGINT, signal.default_int_handler)


def wait_for_interrupt() -> None:
    """Block until SIGINT or SIGTERM (as KeyboardInterrupt, which the caller lets unwind)."""
    interrupt_on_sigterm()
    while True:
        signal.pause()
