"""Password policy and hashing, without sockets."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import bcrypt
import pytest

from service.errors import PasswordTooLong, WeakPassword
from service.passwords import CostClock, PasswordHasher, PasswordPolicy, hash_cost


@pytest.fixture(scope="module")
def policy() -> PasswordPolicy:
    return PasswordPolicy()


@pytest.fixture
def executor() -> Iterator[ThreadPoolExecutor]:
    pool = ThreadPoolExecutor(max_workers=2)
    yield pool
    pool.shutdown(wait=True)


@pytest.mark.parametrize(
    "password",
    ["correct horse battery staple", "Tr0ub4dor&3-but-longer", "ünïcödé pässwörd", "a" * 8 + "z"],
)
def test_good_passwords_pass(policy: PasswordPolicy, password: str) -> None:
    policy.check(password, email="someone@example.com")


@pytest.mark.parametrize("password", ["", "short", "1234567", "ééééééé"])
def test_under_eight_characters_is_weak(policy: PasswordPolicy, password: str) -> None:
    with pytest.raises(WeakPassword, match="8"):
        policy.check(password, email="someone@example.com")


def test_length_counts_characters_not_bytes(policy: PasswordPolicy) -> None:
    policy.check("éééééééé", email="someone@example.com")  # 8 characters, 16 bytes


@pytest.mark.parametrize("password", ["password", "12345678", "iloveyou", "PASSWORD1", "Sunshine"])
def test_common_passwords_are_weak(policy: PasswordPolicy, password: str) -> None:
    with pytest.raises(WeakPassword, match="common"):
        policy.check(password, email="someone@example.com")


def test_password_equal_to_the_email_is_weak(policy: PasswordPolicy) -> None:
    with pytest.raises(WeakPassword, match="email"):
        policy.check("Someone@Example.com", email="someone@example.com")


def test_over_72_bytes_is_refused_not_truncated(policy: PasswordPolicy) -> None:
    policy.check("x" * 72, email="someone@example.com")
    with pytest.raises(PasswordTooLong):
        policy.check("x" * 73, email="someone@example.com")
    with pytest.raises(PasswordTooLong):
        policy.check("€" * 25, email="someone@example.com")  # 25 characters, 75 bytes


async def test_hash_and_verify_round_trip(executor: ThreadPoolExecutor) -> None:
    hasher = PasswordHasher(rounds=4, executor=executor, max_in_flight=2)
    hashed = await hasher.hash("correct horse battery")
    assert hashed.startswith("$2b$04$")
    assert bcrypt.checkpw(b"correct horse battery", hashed.encode())
    assert await hasher.verify("correct horse battery", hashed)
    assert not await hasher.verify("correct horse batterY", hashed)
    assert not await hasher.verify("x" * 100, hashed)


async def test_unknown_accounts_spend_a_bcrypt_verification(executor: ThreadPoolExecutor) -> None:
    seen: list[str] = []
    hasher = PasswordHasher(
        rounds=4,
        executor=executor,
        max_in_flight=2,
        on_finish=lambda operation, seconds: seen.append(operation),
    )
    for _ in range(3):
        assert await hasher.verify_unknown("any password at all") is False
    assert seen == ["verify", "verify", "verify"]


async def test_hashes_in_flight_are_bounded(executor: ThreadPoolExecutor) -> None:
    running = 0
    peak = 0

    def started() -> None:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)

    def finished(operation: str, seconds: float) -> None:
        nonlocal running
        running -= 1
        assert seconds >= 0

    hasher = PasswordHasher(
        rounds=4, executor=executor, max_in_flight=1, on_start=started, on_finish=finished
    )
    await asyncio.gather(*(hasher.hash(f"password number {i}") for i in range(6)))
    assert peak == 1
    assert running == 0


async def test_hashing_does_not_block_the_event_loop(executor: ThreadPoolExecutor) -> None:
    hasher = PasswordHasher(rounds=10, executor=executor, max_in_flight=2)
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.005)
            ticks += 1

    task = asyncio.create_task(ticker())
    await hasher.hash("a password at cost ten")  # ~60 ms of bcrypt
    task.cancel()
    assert ticks >= 3


async def test_the_dummy_costs_what_the_slowest_stored_hash_costs(
    executor: ThreadPoolExecutor,
) -> None:
    hasher = PasswordHasher(rounds=4, executor=executor, max_in_flight=2)
    hasher.expect_cost(8)
    hasher.expect_cost(6)  # a lower cost never lowers it
    assert hasher.dummy_rounds == 8
    await hasher.verify_unknown("whatever password")  # makes the dummy
    started = time.perf_counter()
    await hasher.verify_unknown("whatever password")
    dummy_seconds = time.perf_counter() - started
    slow = bcrypt.hashpw(b"x", bcrypt.gensalt(8))
    started = time.perf_counter()
    bcrypt.checkpw(b"y", slow)
    real_seconds = time.perf_counter() - started
    # Cost 8 is 16x cost 4; a busy machine only makes the dummy slower.
    assert dummy_seconds >= 0.5 * real_seconds


@pytest.mark.parametrize(
    ("stored", "rounds", "rehash"),
    [("$2b$04$" + "a" * 53, 4, False), ("$2b$04$" + "a" * 53, 5, True), ("$2b$12$x", 10, True)],
)
def test_a_hash_of_another_cost_needs_a_rehash(
    executor: ThreadPoolExecutor, stored: str, rounds: int, rehash: bool
) -> None:
    hasher = PasswordHasher(rounds=rounds, executor=executor, max_in_flight=1)
    assert hasher.needs_rehash(stored) is rehash
    assert hash_cost(stored) == int(stored[4:6])


def test_the_cost_clock_estimates_unmeasured_costs_from_the_nearest() -> None:
    clock = CostClock()
    assert clock.estimate(8) is None
    clock.observe(4, 0.001)
    assert clock.estimate(4) == pytest.approx(0.001)
    assert clock.estimate(8) == pytest.approx(0.016)  # bcrypt doubles per step
    clock.observe(8, 0.020)
    assert clock.estimate(8) == pytest.approx(0.020)
    assert clock.estimate(9) == pytest.approx(0.040)
    clock.observe(8, 0.030)  # a moving average: one slow run moves it a little
    assert 0.020 < (clock.estimate(8) or 0) < 0.025


async def test_a_wrong_password_on_a_cheaper_hash_lasts_a_dummy_verification(
    executor: ThreadPoolExecutor,
) -> None:
    hasher = PasswordHasher(rounds=4, executor=executor, max_in_flight=2)
    cheap = await hasher.hash("the right password")
    hasher.expect_cost(8)
    assert await hasher.check("whatever password", None) is False  # makes the dummy
    # The quickest of three unknown-email checks: other work on the machine only ever
    # lengthens one, and the comparison is with what a verification costs.
    unknown_s = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        assert await hasher.check("whatever password", None) is False
        unknown_s = min(unknown_s, time.perf_counter() - started)
    started = time.perf_counter()
    assert await hasher.check("a wrong password", cheap) is False
    wrong_s = time.perf_counter() - started
    assert wrong_s >= 0.5 * unknown_s, (wrong_s, unknown_s)
    # A success is not slowed down: nothing about it needs hiding.
    started = time.perf_counter()
    assert await hasher.check("the right password", cheap) is True
    assert time.perf_counter() - started < wrong_s
