"""Backend selection: pure algorithms over a list of candidates, no I/O.

Each selector picks one of the *candidates* it is given (the caller passes only backends
that are up, enabled and not draining) and may skip those in ``exclude`` (already tried by
this request). Candidates need two attributes: ``weight`` (static) and ``active`` (requests
in flight now).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Collection, Sequence
from typing import Protocol, TypeVar


class Candidate(Protocol):
    @property
    def weight(self) -> int: ...
    @property
    def active(self) -> int: ...


C = TypeVar("C", bound=Candidate)

ALGORITHMS = ("round-robin", "weighted-round-robin", "least-connections", "power-of-two")
#: The algorithms that take no account of a backend's weight.
IGNORES_WEIGHTS = frozenset({"round-robin"})
ALIASES = {
    "rr": "round-robin",
    "roundrobin": "round-robin",
    "wrr": "weighted-round-robin",
    "leastconn": "least-connections",
    "least-conn": "least-connections",
    "p2c": "power-of-two",
    "random2": "power-of-two",
}


class Selector(Protocol):
    def pick(self, candidates: Sequence[C], exclude: Collection[object] = ()) -> C | None: ...


class RoundRobin:
    """Each candidate in turn, ignoring weights."""

    __slots__ = ("_next",)

    def __init__(self) -> None:
        self._next = 0

    def pick(self, candidates: Sequence[C], exclude: Collection[object] = ()) -> C | None:
        count = len(candidates)
        for _ in range(count):
            index = self._next % count
            self._next = index + 1
            chosen = candidates[index]
            if not exclude or chosen not in exclude:
                return chosen
        return None

    def __repr__(self) -> str:
        return f"<RoundRobin next={self._next}>"


class WeightedRoundRobin:
    """nginx's smooth weighted round-robin: weight 3 vs 1 gives a a b a, not a a a b."""

    __slots__ = ("_current",)

    def __init__(self) -> None:
        self._current: dict[int, int] = {}

    def pick(self, candidates: Sequence[C], exclude: Collection[object] = ()) -> C | None:
        current = self._current
        total = 0
        best: C | None = None
        best_score = 0
        for candidate in candidates:
            if exclude and candidate in exclude:
                continue
            weight = candidate.weight
            if weight <= 0:
                continue
            key = id(candidate)
            score = current.get(key, 0) + weight
            current[key] = score
            total += weight
            if best is None or score > best_score:
                best, best_score = candidate, score
        if best is not None:
            current[id(best)] = best_score - total
        if len(current) > 4 * len(candidates) + 16:
            live = {id(c) for c in candidates}
            self._current = {k: v for k, v in current.items() if k in live}
        return best


class LeastConnections:
    """The candidate with the fewest requests in flight relative to its weight; ties rotate."""

    __slots__ = ("_rotation",)

    def __init__(self) -> None:
        self._rotation = 0

    def pick(self, candidates: Sequence[C], exclude: Collection[object] = ()) -> C | None:
        count = len(candidates)
        start = self._rotation % count if count else 0
        self._rotation = start + 1
        best: C | None = None
        best_load = 0.0
        for offset in range(count):
            candidate = candidates[(start + offset) % count]
            if exclude and candidate in exclude:
                continue
            load = candidate.active / max(candidate.weight, 1)
            if best is None or load < best_load:
                best, best_load = candidate, load
        return best


class PowerOfTwo:
    """Two random candidates, the less loaded wins (HAProxy ``random(2)``, Envoy LEAST_REQUEST)."""

    __slots__ = ("_random",)

    def __init__(self, rng: Callable[[int], int] | None = None) -> None:
        self._random = rng if rng is not None else random.Random().randrange

    def pick(self, candidates: Sequence[C], exclude: Collection[object] = ()) -> C | None:
        pool = [c for c in candidates if c not in exclude] if exclude else candidates
        count = len(pool)
        if count == 0:
            return None
        if count == 1:
            return pool[0]
        first = self._random(count)
        second = self._random(count - 1)
        if second >= first:
            second += 1
        a, b = pool[first], pool[second]
        return a if a.active / max(a.weight, 1) <= b.active / max(b.weight, 1) else b


def make_selector(algorithm: str, rng: Callable[[int], int] | None = None) -> Selector:
    """The selector for an algorithm name from :data:`ALGORITHMS` (or an alias)."""
    name = ALIASES.get(algorithm, algorithm)
    if name == "round-robin":
        return RoundRobin()
    if name == "weighted-round-robin":
        return WeightedRoundRobin()
    if name == "least-connections":
        return LeastConnections()
    if name == "power-of-two":
        return PowerOfTwo(rng)
    raise ValueError(f"unknown algorithm {algorithm!r}; choose one of {', '.join(ALGORITHMS)}")
