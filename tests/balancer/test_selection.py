"""Selection algorithms, table-driven, over plain candidate objects."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import pytest

from balancer.selection import (
    LeastConnections,
    PowerOfTwo,
    RoundRobin,
    WeightedRoundRobin,
    make_selector,
)


@dataclass(eq=False)
class B:
    name: str
    weight: int = 1
    active: int = 0


def picks(selector: object, candidates: list[B], n: int, exclude: tuple[B, ...] = ()) -> str:
    out = []
    for _ in range(n):
        chosen = selector.pick(candidates, exclude)  # type: ignore[attr-defined]
        out.append(chosen.name if chosen else "-")
    return "".join(out)


A_, B_, C_ = B("a"), B("b"), B("c")


@pytest.mark.parametrize(
    ("candidates", "exclude", "expected"),
    [
        ([A_, B_, C_], (), "abcabc"),
        ([A_, B_, C_], (B_,), "acacac"),
        ([A_], (), "aaaaaa"),
        ([A_], (A_,), "------"),
        ([], (), "------"),
    ],
)
def test_round_robin(candidates: list[B], exclude: tuple[B, ...], expected: str) -> None:
    assert picks(RoundRobin(), candidates, 6, exclude) == expected


@pytest.mark.parametrize(
    ("weights", "n", "expected"),
    [
        ((1, 1, 1), 6, "abcabc"),
        ((5, 1, 1), 7, "aabacaa"),  # nginx's smooth WRR: spread, not bunched
        ((3, 1, 0), 8, "aabaaaba"),
        ((0, 0, 0), 2, "--"),
    ],
)
def test_weighted_round_robin(weights: tuple[int, ...], n: int, expected: str) -> None:
    candidates = [B(name, weight=w) for name, w in zip("abc", weights, strict=True)]
    assert picks(WeightedRoundRobin(), candidates, n) == expected


def test_weighted_round_robin_long_run_matches_weights() -> None:
    candidates = [B("a", 5), B("b", 3), B("c", 2)]
    selector = WeightedRoundRobin()
    counts = Counter(selector.pick(candidates).name for _ in range(1000))  # type: ignore[union-attr]
    assert counts == {"a": 500, "b": 300, "c": 200}


@pytest.mark.parametrize(
    ("loads", "weights", "expected"),
    [
        ((3, 1, 2), (1, 1, 1), "b"),
        ((0, 0, 5), (1, 1, 1), "a"),  # ties rotate from the start index
        ((4, 3, 9), (4, 1, 1), "a"),  # 4/4 beats 3/1
    ],
)
def test_least_connections(loads: tuple[int, ...], weights: tuple[int, ...], expected: str) -> None:
    candidates = [B(n, weight=w, active=a) for n, w, a in zip("abc", weights, loads, strict=True)]
    assert LeastConnections().pick(candidates).name == expected  # type: ignore[union-attr]


def test_least_connections_ties_rotate() -> None:
    assert picks(LeastConnections(), [B("a"), B("b"), B("c")], 3) == "abc"


@pytest.mark.parametrize(
    ("draws", "loads", "expected"),
    [
        ((0, 0), (5, 1, 1), "b"),  # a vs b (second index skips the first)
        ((2, 0), (5, 1, 9), "a"),  # c vs a → a
        ((1, 1), (0, 0, 0), "b"),  # b vs c tie → first drawn
    ],
)
def test_power_of_two(draws: tuple[int, int], loads: tuple[int, ...], expected: str) -> None:
    sequence = iter(draws)
    selector = PowerOfTwo(lambda _n: next(sequence))
    candidates = [B(n, active=a) for n, a in zip("abc", loads, strict=True)]
    assert selector.pick(candidates).name == expected  # type: ignore[union-attr]


def test_power_of_two_respects_exclude_and_avoids_the_busy_one() -> None:
    busy, idle, excluded = B("b", active=50), B("i"), B("x")
    assert picks(PowerOfTwo(), [busy, idle, excluded], 50, (excluded,)) == "i" * 50


def test_power_of_two_spreads_equal_loads() -> None:
    counts = Counter(picks(PowerOfTwo(), [B("a"), B("b"), B("c")], 3000))
    assert all(800 < counts[name] < 1200 for name in "abc")


@pytest.mark.parametrize(
    ("name", "cls"),
    [
        ("round-robin", RoundRobin),
        ("rr", RoundRobin),
        ("wrr", WeightedRoundRobin),
        ("leastconn", LeastConnections),
        ("p2c", PowerOfTwo),
        ("power-of-two", PowerOfTwo),
    ],
)
def test_make_selector(name: str, cls: type) -> None:
    assert isinstance(make_selector(name), cls)


def test_make_selector_refuses_unknown() -> None:
    with pytest.raises(ValueError, match="unknown algorithm"):
        make_selector("fastest")
