"""Backend health as a pure state machine (no I/O); :mod:`balancer.checks` feeds it.

HAProxy semantics: ``fall`` consecutive failed checks take an UP backend DOWN, ``rise``
consecutive successes bring a DOWN one UP; a check is an HTTP GET of ``path`` on a fresh
connection, healthy when it answers 2xx within the check timeout; checks run every
``interval`` seconds with jitter. Passive ejection (consecutive connect failures or 5xx seen
by real traffic, counted by the proxy) forces DOWN at once; only active checks bring the
backend back, or, when active checks are off, the end of the ejection time.
"""

from __future__ import annotations

from dataclasses import dataclass


class HealthState:
    """UP/DOWN with rise/fall counters. Methods return the new state name on a change."""

    __slots__ = ("failures", "fall", "rise", "successes", "up")

    def __init__(self, *, rise: int, fall: int, up: bool = True, pending_successes: int = 0):
        self.rise = rise
        self.fall = fall
        self.up = up
        self.successes = pending_successes
        self.failures = 0

    def record(self, ok: bool) -> str | None:
        """Record one active check result; return ``"up"``/``"down"`` when the state flips."""
        if ok:
            self.failures = 0
            if self.up:
                return None
            self.successes += 1
            if self.successes >= self.rise:
                self.up = True
                self.successes = 0
                return "up"
            return None
        self.successes = 0
        if not self.up:
            return None
        self.failures += 1
        if self.failures >= self.fall:
            self.up = False
            self.failures = 0
            return "down"
        return None

    def eject(self) -> str | None:
        """Passive ejection: DOWN now; ``rise`` good checks are needed to come back."""
        self.successes = 0
        self.failures = 0
        if not self.up:
            return None
        self.up = False
        return "down"

    def restore(self) -> str | None:
        """End of a passive ejection when no active checks run."""
        if self.up:
            return None
        self.up = True
        self.successes = 0
        return "up"

    def __repr__(self) -> str:
        state = "up" if self.up else "down"
        counts = f"successes={self.successes}/{self.rise} failures={self.failures}/{self.fall}"
        return f"<HealthState {state} {counts}>"


@dataclass(slots=True)
class CheckResult:
    ok: bool
    status: int | None
    latency: float
    error: str | None
    at: float
