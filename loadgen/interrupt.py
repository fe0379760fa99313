"""Stopping a run early on a signal, the way k6 does.

The first SIGINT (Ctrl-C) or SIGTERM stops new iterations; in-flight ones get the graceful
stop, and the summary and JSON are still written (exit code 105, k6's ``ExternalAbort``).
A second SIGINT falls through to Python's default handler (``KeyboardInterrupt``).
"""

from __future__ import annotations

import asyncio
import signal

ABORTED_EXIT_CODE = 105
_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupt:
    """Holds the 'stop now' event; :meth:`install` wires it to the running loop's signals."""

    def __init__(self) -> None:
        self.event = asyncio.Event()
        self.received: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def __repr__(self) -> str:
        return f"Interrupt(received={self.received})"

    @property
    def is_set(self) -> bool:
        return self.event.is_set()

    def trigger(self, signum: int = signal.SIGINT) -> None:
        if self.received is not None:
            return
        self.received = signum
        self.event.set()
        if self._loop is not None:
            self._loop.remove_signal_handler(signal.SIGINT)

    def install(self) -> bool:
        """Handle SIGINT/SIGTERM on the running loop; False where that is impossible."""
        loop = asyncio.get_running_loop()
        try:
            for signum in _SIGNALS:
                loop.add_signal_handler(signum, self.trigger, signum)
        except (ValueError, RuntimeError, NotImplementedError):
            return False
        self._loop = loop
        return True

    def uninstall(self) -> None:
        if self._loop is not None:
            for signum in _SIGNALS:
                self._loop.remove_signal_handler(signum)
            self._loop = None
