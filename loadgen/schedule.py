"""How a run's load is written, k6's way: durations (``10s``, ``1m30s``, ``500ms``, ``2h``; a
bare number means seconds), rates (``50/s``, ``600/m`` or ``50``), ramping stages
(``30s:200``), and what an arrival finding every VU busy does in the open model (``drop``
or ``queue``). Pure parsing: a malformed value is a :class:`ConfigError` that shows it.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from loadgen.errors import ConfigError

#: What an arrival finding every VU busy does (``--when-busy``): dropped, or queued.
DROP, QUEUE = "drop", "queue"

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
_RATE_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: str) -> float:
    """``'1m30s'`` -> 90.0 seconds; a bare number is seconds."""
    text = text.strip()
    try:
        return _non_negative(float(text), text)
    except ValueError:
        pass
    position, seconds = 0, 0.0
    for match in _DURATION_PART.finditer(text):
        if match.start() != position:
            break
        seconds += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        position = match.end()
    if not text or position != len(text):
        raise ConfigError(f"invalid duration {text!r} (examples: 10s, 1m30s, 500ms)")
    return seconds


def _non_negative(value: float, text: str) -> float:
    if value < 0 or not math.isfinite(value):
        raise ConfigError(f"invalid duration {text!r}")
    return value


def parse_rate(text: str) -> float:
    """``'50/s'`` -> 50.0 iterations per second; also ``/m``, ``/h``, ``/2s``."""
    number, _, unit = text.strip().partition("/")
    try:
        value = float(number)
        per = 1.0 if not unit else _rate_unit(unit)
    except (ValueError, KeyError):
        raise ConfigError(f"invalid rate {text!r} (examples: 50/s, 600/m)") from None
    if value <= 0 or per <= 0:
        raise ConfigError(f"rate must be positive, got {text!r}")
    return value / per


def _rate_unit(unit: str) -> float:
    if unit in _RATE_UNITS:
        return _RATE_UNITS[unit]
    return parse_duration(unit)


@dataclass(frozen=True, slots=True)
class Stage:
    """Ramp linearly to ``target`` VUs over ``duration_s`` (k6 ``stages``)."""

    duration_s: float
    target: int


def parse_stage(text: str) -> Stage:
    """``'30s:200'`` -> Stage(30.0, 200)."""
    duration, sep, target = text.partition(":")
    if not sep or not target.strip().isdigit():
        raise ConfigError(f"invalid stage {text!r} (expected DURATION:TARGET, e.g. 30s:200)")
    return Stage(parse_duration(duration), int(target))
