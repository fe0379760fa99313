"""A live one-line status on a terminal; plain periodic lines when output is not a terminal."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class StatusLine:
    def __init__(self, stream: TextIO | None = None, *, every_s: float = 10.0) -> None:
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.every_s = every_s
        self._last_plain = 0.0
        self._width = 0

    def update(self, text: str) -> None:
        if self.tty:
            pad = max(0, self._width - len(text))
            self.stream.write("\r" + text + " " * pad)
            self.stream.flush()
            self._width = len(text)
        elif time.monotonic() - self._last_plain >= self.every_s:
            self.stream.write(text + "\n")
            self.stream.flush()
            self._last_plain = time.monotonic()

    def done(self, text: str = "") -> None:
        """End the live line, leaving `text` (if any) as a permanent line."""
        if self.tty:
            self.stream.write("\r" + " " * self._width + "\r")
            self._width = 0
        if text:
            self.stream.write(text + "\n")
        self.stream.flush()
        self._last_plain = 0.0
