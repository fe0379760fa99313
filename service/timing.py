"""Where a request's time went: phases recorded per request, sent as ``Server-Timing``.

A :class:`PhaseRecorder` is created for each request by :func:`begin` (a request
middleware) and found through a context variable by the few choke points that do the work:
the password hasher (``hash-wait``, ``hash``), the user store (``db``), the Redis error
boundary every session and throttle call passes (``redis``) and the access tokens
(``jwt``). Each adds seconds with :func:`add_elapsed` (or :func:`add`), a no-op outside
a request; the response middleware calls :func:`finish` for ``app`` (the whole handler,
middleware to middleware) and :func:`server_timing` for the W3C header value, e.g.::

    hash-wait;dur=12.31, hash;dur=58.02, db;dur=0.91, redis;dur=0.40, app;dur=72.10

Durations are milliseconds with two decimals; phases that did not run are left out, ``app``
is always there. Work outside a request (startup, migrations) finds no recorder and is not
counted. Child tasks of a request (``asyncio.gather``) copy the context and so share the
request's recorder; their phases are summed even when they overlapped in time.

Recording is on every request's path, so it is kept to ``perf_counter`` calls and float
additions into a fixed list; the header string is only formatted when the response goes.
"""

from __future__ import annotations

from contextvars import ContextVar
from time import perf_counter

HASH_WAIT, HASH, DB, REDIS, JWT = PHASES = range(5)
"""Phase indexes, in the order they appear in the header."""

PHASE_NAMES = ("hash-wait", "hash", "db", "redis", "jwt")
APP = "app"
HEADER = "Server-Timing"


class PhaseRecorder:
    """Seconds per phase of one request; ``ran`` has bit ``1 << phase`` set per phase seen."""

    __slots__ = ("ran", "started", "totals")

    def __init__(self, started: float) -> None:
        self.started = started
        self.totals = [0.0, 0.0, 0.0, 0.0, 0.0]
        self.ran = 0

    def __repr__(self) -> str:
        return f"PhaseRecorder({dict(self.phases())})"

    def add(self, phase: int, seconds: float) -> None:
        self.totals[phase] += seconds
        self.ran |= 1 << phase

    def phases(self) -> list[tuple[int, float]]:
        """(phase, seconds) of the phases that ran, in header order."""
        ran = self.ran
        return [(phase, seconds) for phase, seconds in enumerate(self.totals) if ran >> phase & 1]


_CURRENT: ContextVar[PhaseRecorder | None] = ContextVar("authscale_phases", default=None)


def begin() -> PhaseRecorder:
    """Start timing the current request (a fresh recorder replaces any earlier one)."""
    recorder = PhaseRecorder(perf_counter())
    _CURRENT.set(recorder)
    return recorder


def current() -> PhaseRecorder | None:
    return _CURRENT.get()


def add(phase: int, seconds: float) -> None:
    """Charge ``seconds`` to ``phase`` of the current request, if there is one."""
    recorder = _CURRENT.get()
    if recorder is not None:
        recorder.add(phase, seconds)


def add_elapsed(phase: int, started: float) -> None:
    """Charge the time elapsed since ``started`` (a ``perf_counter()`` value) to ``phase``.

    It adds: a phase that runs twice in one request (two Redis calls) is charged twice.
    """
    recorder = _CURRENT.get()
    if recorder is not None:
        recorder.add(phase, perf_counter() - started)


def finish(recorder: PhaseRecorder) -> float:
    """The ``app`` seconds of a request that is being answered.

    The recorder is detached from the context, so a keep-alive connection's next request
    (handled in the same task) cannot add to it.
    """
    app_seconds = perf_counter() - recorder.started
    _CURRENT.set(None)
    return app_seconds


_FORMATS = tuple(f"{name};dur=%.2f" for name in PHASE_NAMES)
_APP_FORMAT = f"{APP};dur=%.2f"


def server_timing(recorder: PhaseRecorder, app_seconds: float) -> str:
    """The header value: each phase that ran, then ``app``; milliseconds, 2 decimals."""
    app = _APP_FORMAT % (app_seconds * 1000.0)
    ran = recorder.ran
    if not ran:
        return app
    totals = recorder.totals
    entries = []
    for phase in PHASES:  # a plain loop: cheaper than a comprehension's extra frame
        if ran >> phase & 1:
            entries.append(_FORMATS[phase] % (totals[phase] * 1000.0))
    entries.append(app)
    return ", ".join(entries)
