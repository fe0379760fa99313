"""Turn SIGTERM into KeyboardInterrupt, so one `try/finally` tears down on both; and the
shape every foreground command shares (start, print `ready`, hold until interrupted)."""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable
from pathlib import Path
from types import FrameType, TracebackType

from lab.errors import LabError


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


def announce_ready_and_wait() -> None:
    """Print `ready` (the line scripts wait for), then block until Ctrl-C or SIGTERM."""
    print("ready", flush=True)
    wait_for_interrupt()


class Foreground:
    """Wraps the body of a command that holds servers until it is interrupted: Ctrl-C or
    SIGTERM ends it quietly, a LabError is reported on stderr and makes `exit_code` 1.
    Put the teardown in a `finally` around it, so it runs after the error is reported."""

    def __init__(self) -> None:
        self.exit_code = 0

    def __enter__(self) -> Foreground:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> bool:
        if isinstance(exc, KeyboardInterrupt):
            return True
        if isinstance(exc, LabError):
            print(f"error: {exc}", file=sys.stderr)
            self.exit_code = 1
            return True
        return False


def report_command(
    work: Callable[[], Path], *, expected: tuple[type[Exception], ...], who: str
) -> int:
    """The exit code of a command that writes a report: ``report: PATH`` and 0; an error it
    expects (its own, a bad option found late) as one ``error:`` line and 1; Ctrl-C or
    SIGTERM as 130, after ``work``'s own ``finally`` blocks stopped what it started."""
    interrupt_on_sigterm()
    try:
        out = work()
    except expected as exc:
        print(f"\nerror: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"\ninterrupted: every process {who} started has been stopped", file=sys.stderr)
        return 130
    print(f"report: {out}")
    return 0
