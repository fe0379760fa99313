"""W3C ``Server-Timing`` response headers: parsed into (phase, milliseconds) pairs.

The service names the phases of its handler (``hash-wait``, ``hash``, ``db``, ``redis``,
``jwt``, ``app``) and a balancer in front appends its own (``lb-queue``, ``lb-connect``,
``lb-ttfb``)::

    Server-Timing: hash-wait;dur=12.31, hash;dur=58.02, db;dur=0.91, app;dur=72.10,
                   lb-queue;dur=0.02, lb-connect;dur=0, lb-ttfb;dur=72.60

Each entry is ``name[;param[=value]]...``; only entries with a ``dur`` are kept, under a
key usable in a metric name: lower case, every character other than a letter or digit
turned into ``_`` (``hash-wait`` → ``hash_wait``). An entry whose name is not an HTTP
token, whose ``dur`` is not a number from 0 to :data:`MAX_DURATION_MS` (what the load
generator's histograms can hold; larger values, infinities and NaN are nonsense from a
server), or whose key is :data:`REMAINDER` (computed here, never taken from a server) is
skipped; a header that is not
Server-Timing syntax at all yields nothing. Nothing here raises on what a server sends.
A name given twice in one response counts once, with the durations added.

:func:`outermost_ms` is the server's share of the client-measured duration: the balancer's
``lb-queue + lb-connect + lb-ttfb`` when any of them is present (the service's ``app`` runs
inside ``lb-ttfb``), else the service's ``app``.
"""

from __future__ import annotations

import re
from functools import lru_cache

from loadgen.histogram import HIGHEST_TRACKABLE_US

REMAINDER = "remainder"
"""The key of the client-measured duration minus :func:`outermost_ms`: the time outside the
handlers (the servers' HTTP layers, event-loop waits, the network, the client)."""

APP = "app"
SERVICE = ("hash_wait", "hash", "db", "redis", "jwt")
"""The phases inside the service's handler (within ``app``), in the order they happen."""
BALANCER = ("lb_queue", "lb_connect", "lb_ttfb")
"""The balancer's phases: waiting for a backend slot, connecting, the backend's first byte."""
ORDER = (*SERVICE, APP, *BALANCER)
"""The phases the service and the balancer report, as keys, in the order they happen: the
one list of known phase names (thresholds and the lab's report take theirs from here)."""

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_NOT_KEY = re.compile(r"[^a-z0-9]")

MAX_DURATION_MS = HIGHEST_TRACKABLE_US / 1000.0
"""The longest ``dur`` accepted: the highest value a phase histogram tracks, in ms."""


# Names seen repeat, so the usual header costs one C-level cache hit per entry; the bound
# keeps a server that invents new names from growing the generator's memory.
@lru_cache(maxsize=256)
def phase_key(name: str) -> str | None:
    """The metric key of an entry name (``hash-wait`` → ``hash_wait``), None if unusable.

    Surrounding whitespace is ignored; answers are cached by the name as written.
    """
    stripped = name.strip()
    if _TOKEN.fullmatch(stripped) is None:
        return None
    key = _NOT_KEY.sub("_", stripped.lower())
    return None if key == REMAINDER else key


def parse(header: str) -> dict[str, float]:
    """key → milliseconds for every usable entry of a ``Server-Timing`` value.

    Runs once per response in the generator, so the common shape (``name;dur=N`` entries,
    no quoted strings) takes a short path without helper calls.
    """
    found: dict[str, float] = {}
    quoted = '"' in header
    for entry in _split(header, ",") if quoted else header.split(","):
        name, sep, params = entry.partition(";")
        if not sep:
            continue  # no parameters, so no duration
        key = phase_key(name)
        if key is None:
            continue
        if not quoted and params[:4] == "dur=" and ";" not in params:
            text: str | None = params[4:]
        else:
            text = _duration_text(params, quoted)
        if text is None:
            continue
        try:
            duration = float(text)
        except ValueError:
            continue
        if not 0.0 <= duration <= MAX_DURATION_MS:  # also false for NaN and infinities
            continue
        if key in found:
            found[key] += duration
        else:
            found[key] = duration
    return found


def outermost_ms(phases: dict[str, float]) -> float | None:
    """The server's time as seen from outside it, or None without ``app`` or ``lb-*``."""
    if "lb_queue" in phases or "lb_connect" in phases or "lb_ttfb" in phases:
        return (
            phases.get("lb_queue", 0.0) + phases.get("lb_connect", 0.0) + phases.get("lb_ttfb", 0.0)
        )
    return phases.get(APP)


def ordered(keys: list[str]) -> list[str]:
    """Known phases in :data:`ORDER`, then others alphabetically, the remainder last."""
    known = [key for key in ORDER if key in keys]
    others = sorted(key for key in keys if key not in ORDER and key != REMAINDER)
    return known + others + ([REMAINDER] if REMAINDER in keys else [])


def _duration_text(params: str, quoted: bool) -> str | None:
    """The first ``dur`` parameter's value, unquoted; None when absent or malformed."""
    for param in _split(params, ";") if quoted else params.split(";"):
        key, eq, value = param.partition("=")
        if key.strip().lower() == "dur" and eq:
            text = value.strip()
            if text.startswith('"'):  # a quoted-string: both quotes or nothing
                if len(text) < 2 or not text.endswith('"'):
                    return None
                text = text[1:-1]
            return text
    return None


def _split(text: str, separator: str) -> list[str]:
    """``text`` split at ``separator`` outside double-quoted strings (with ``\\`` escapes)."""
    parts: list[str] = []
    start = 0
    in_quotes = escaped = False
    for index, char in enumerate(text):
        if escaped:
            escaped = False
        elif in_quotes:
            if char == "\\":
                escaped = True
            elif char == '"':
                in_quotes = False
        elif char == '"':
            in_quotes = True
        elif char == separator:
            parts.append(text[start:index])
            start = index + 1
    parts.append(text[start:])
    return parts
