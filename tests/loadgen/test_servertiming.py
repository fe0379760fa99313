"""The Server-Timing parser: what a service and a balancer send, and what nobody should."""

import random

import pytest

from loadgen.servertiming import (
    MAX_DURATION_MS,
    REMAINDER,
    ordered,
    outermost_ms,
    parse,
    phase_key,
)
from loadgen.stepstats import StepStats

SERVICE = (
    "hash-wait;dur=12.31, hash;dur=58.02, db;dur=0.91, redis;dur=0.40, jwt;dur=0.15, app;dur=72.10"
)


def test_the_service_s_header() -> None:
    assert parse(SERVICE) == {
        "hash_wait": 12.31,
        "hash": 58.02,
        "db": 0.91,
        "redis": 0.40,
        "jwt": 0.15,
        "app": 72.10,
    }


def test_balancer_entries_appended_after_the_service_s() -> None:
    header = SERVICE + ", lb-queue;dur=0.02, lb-connect;dur=0, lb-ttfb;dur=72.6"
    phases = parse(header)
    assert phases["lb_queue"] == 0.02
    assert phases["lb_connect"] == 0.0
    assert phases["lb_ttfb"] == 72.6
    assert outermost_ms(phases) == pytest.approx(72.62)


def test_outermost_is_app_without_the_balancer_and_none_without_either() -> None:
    assert outermost_ms(parse("db;dur=1, app;dur=3.5")) == 3.5
    assert outermost_ms(parse("lb-ttfb;dur=4")) == 4.0
    assert outermost_ms(parse("db;dur=1")) is None


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("app;dur=1.5", {"app": 1.5}),
        ("  app ; dur = 1.5  ", {"app": 1.5}),
        ("app;DUR=2", {"app": 2.0}),
        ('app;desc="handler";dur=3', {"app": 3.0}),
        ('app;dur="4.25"', {"app": 4.25}),
        ('cache;desc="hit, from a ; quoted, place";dur=0.5, db;dur=1', {"cache": 0.5, "db": 1.0}),
        ('x;desc="an \\" escaped quote, still inside";dur=1', {"x": 1.0}),
        ("db;dur=1, db;dur=2.5", {"db": 3.5}),
        ("Cache.Hit;dur=1", {"cache_hit": 1.0}),
        ("app;dur=1e1", {"app": 10.0}),
        ("app;dur=5;dur=7", {"app": 5.0}),
    ],
)
def test_valid_forms(header: str, expected: dict[str, float]) -> None:
    assert parse(header) == expected


@pytest.mark.parametrize(
    "header",
    [
        "",
        ",",
        ";;;",
        "app",  # no duration: nothing to add up
        'miss;desc="no duration"',
        "app;dur",
        "app;dur=",
        "app;dur=fast",
        "app;dur=-1",
        "app;dur=nan",
        "app;dur=inf",
        "app;dur=1e400",
        ";dur=1",
        "bad name;dur=1",
        "(app);dur=1",
        "ápp;dur=1",
        "remainder;dur=5",  # computed by the generator, never taken from a server
        'app;dur="1',
        "\x00\xff;dur=1",
    ],
)
def test_malformed_entries_are_ignored(header: str) -> None:
    assert parse(header) == {}


def test_a_malformed_entry_does_not_spoil_its_neighbours() -> None:
    assert parse("db;dur=x, redis;dur=0.4, ;dur=3, app;dur=2") == {"redis": 0.4, "app": 2.0}


def test_random_input_never_raises() -> None:
    rng = random.Random(16)
    alphabet = 'ab-_;=,". 0123456789\\\tédurDUR'
    for _ in range(3000):
        header = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40)))
        phases = parse(header)
        assert all(value >= 0 for value in phases.values())
        assert REMAINDER not in phases


def test_keys_suit_metric_names() -> None:
    assert phase_key("hash-wait") == "hash_wait"
    assert phase_key("lb-TTFB") == "lb_ttfb"
    assert phase_key("a b") is None
    assert phase_key("") is None


def test_ordered_puts_phases_in_the_order_they_happen_and_the_remainder_last() -> None:
    keys = ["remainder", "zz", "app", "lb_ttfb", "hash", "aa", "hash_wait", "db"]
    assert ordered(keys) == ["hash_wait", "hash", "db", "app", "lb_ttfb", "aa", "zz", "remainder"]


@pytest.mark.parametrize("duration", ["1e306", "3600000.001", "1e400", "-0.5"])
def test_durations_beyond_what_a_histogram_holds_are_skipped(duration: str) -> None:
    assert parse(f"db;dur=1, app;dur={duration}") == {"db": 1.0}


def test_the_longest_trackable_duration_is_kept() -> None:
    assert parse(f"app;dur={MAX_DURATION_MS:.0f}") == {"app": MAX_DURATION_MS}


def test_a_huge_duration_from_a_server_does_not_crash_the_recorder() -> None:
    step = StepStats()
    step.record_server_timing("app;dur=1e306, db;dur=2", 5_000)
    assert step.server_timing["db"].count == 1
    assert "app" not in step.server_timing
