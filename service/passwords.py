"""Passwords: the signup policy, and bcrypt run in a bounded thread pool.

bcrypt releases the GIL, so hashing in a thread pool lets one process use every core while
the event loop keeps serving. A semaphore bounds the hashes in flight to the pool's size so
waiting requests queue where they can still be cancelled.

A failed login must not say whether the account exists, nor (after ``AUTH_BCRYPT_ROUNDS``
changed) how costly its hash is: :meth:`PasswordHasher.check` makes every failure last at
least one verification at the highest cost in use (the dummy's), sleeping the shortfall
rather than hashing it, and reports it as ``hash`` so Server-Timing shows the same.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import bcrypt
from zxcvbn.frequency_lists import FREQUENCY_LISTS

from service import timing
from service.emails import canonical_form
from service.errors import PasswordTooLong, ServiceError, WeakPassword

MIN_LENGTH = 8
MAX_BYTES = 72  # bcrypt's input limit; longer passwords are refused, never truncated

T = TypeVar("T")


def _timed(function: Callable[..., T], args: tuple[bytes, ...]) -> tuple[T, float, float]:
    """Runs in the hashing thread: the result and when bcrypt started and ended there."""
    began = time.perf_counter()
    result = function(*args)
    return result, began, time.perf_counter()


def hash_cost(hashed: str) -> int | None:
    """The cost of a bcrypt hash (``$2b$12$…`` → 12), None when it is not one."""
    parts = hashed.split("$")
    if len(parts) < 4 or not parts[2].isdigit():
        return None
    return int(parts[2])


class CostClock:
    """How long one bcrypt run takes at each cost, as measured here (no I/O, no clock).

    Each cost keeps a moving average of its measured runs; a cost never measured is
    estimated from the nearest measured one, bcrypt doubling its work per step of cost.
    """

    #: Weight of the newest measurement: recent enough to follow the machine's load,
    #: smooth enough that one run preempted in its thread does not swing it.
    WEIGHT = 0.2

    def __init__(self) -> None:
        self._seconds: dict[int, float] = {}

    def observe(self, cost: int, seconds: float) -> None:
        known = self._seconds.get(cost)
        self._seconds[cost] = seconds if known is None else known + self.WEIGHT * (seconds - known)

    def estimate(self, cost: int) -> float | None:
        """Seconds one run at ``cost`` takes; None before anything was measured."""
        if cost in self._seconds:
            return self._seconds[cost]
        if not self._seconds:
            return None
        nearest = min(self._seconds, key=lambda known: abs(known - cost))
        return self._seconds[nearest] * 2.0 ** (cost - nearest)


class PasswordPolicy:
    """Decides whether a new password is acceptable (NIST 800-63B / ASVS 6.2 style)."""

    def __init__(self, common_passwords: frozenset[str] | None = None) -> None:
        if common_passwords is None:
            common_passwords = frozenset(FREQUENCY_LISTS["passwords"])
        self._common = common_passwords

    def check(self, password: str, *, email: str) -> None:
        """Raise :class:`WeakPassword` or :class:`PasswordTooLong` when refused."""
        if len(password.encode("utf-8")) > MAX_BYTES:
            raise PasswordTooLong()
        if len(password) < MIN_LENGTH:
            raise WeakPassword(f"the password must have at least {MIN_LENGTH} characters")
        folded = canonical_form(password)
        if folded == canonical_form(email):
            raise WeakPassword("the password must not be the email address")
        if folded in self._common:
            raise WeakPassword("the password is on a list of commonly used passwords")


class PasswordHasher:
    """bcrypt hashing and verification off the event loop.

    ``on_start`` / ``on_finish(operation, seconds)`` let metrics observe the work.
    """

    def __init__(
        self,
        *,
        rounds: int,
        executor: ThreadPoolExecutor,
        max_in_flight: int,
        on_start: Callable[[], None] | None = None,
        on_finish: Callable[[str, float], None] | None = None,
    ) -> None:
        self.rounds = rounds
        self._executor = executor
        self._slots = asyncio.Semaphore(max_in_flight)
        self._on_start = on_start
        self._on_finish = on_finish
        self._dummy_hash: bytes | None = None
        # The dummy for unknown emails costs what the slowest stored hash costs, or an
        # unknown email would answer faster than an account with an older, higher cost.
        self._dummy_rounds = rounds
        self._clock = CostClock()

    def expect_cost(self, cost: int) -> None:
        """A stored hash has cost ``cost``: make the dummy at least that expensive."""
        if cost > self._dummy_rounds and 4 <= cost <= 31:
            self._dummy_rounds = cost
            self._dummy_hash = None

    @property
    def dummy_rounds(self) -> int:
        return self._dummy_rounds

    def needs_rehash(self, hashed: str) -> bool:
        """Whether a verified hash should be replaced: its cost is not the configured one."""
        return hash_cost(hashed) != self.rounds

    async def hash(self, password: str) -> str:
        """A bcrypt hash of ``password`` (at most 72 UTF-8 bytes)."""
        secret = password.encode("utf-8")
        salt = bcrypt.gensalt(self.rounds)
        hashed, _ = await self._run("hash", self.rounds, bcrypt.hashpw, secret, salt)
        return hashed.decode("ascii")

    async def verify(self, password: str, hashed: str) -> bool:
        """Whether ``password`` matches ``hashed``; never raises for a bad password."""
        return (await self._verify(password, hashed))[0]

    async def verify_unknown(self, password: str) -> bool:
        """Spend the time a real verification takes, for an account that does not exist."""
        return (await self._verify_dummy(password))[0]

    async def check(self, password: str, hashed: str | None) -> bool:
        """Whether ``password`` matches ``hashed`` (None: there is no such account).

        A failure takes at least as long as one verification at the dummy's cost, so
        neither an unknown email nor an account with a cheaper hash answers sooner: the
        shortfall is slept (no CPU) and charged to ``hash``.
        """
        if hashed is None:
            verified, spent = await self._verify_dummy(password)
        else:
            self.expect_cost(hash_cost(hashed) or 0)
            verified, spent = await self._verify(password, hashed)
        if verified:
            return True
        target = self._clock.estimate(self._dummy_rounds)
        if target is not None and target > spent:
            await asyncio.sleep(target - spent)
            timing.add(timing.HASH, target - spent)
        return False

    async def _verify(self, password: str, hashed: str) -> tuple[bool, float]:
        secret = password.encode("utf-8")
        cost = hash_cost(hashed)
        if len(secret) > MAX_BYTES or cost is None:
            return await self._verify_dummy(password)
        return await self._run("verify", cost, bcrypt.checkpw, secret, hashed.encode("ascii"))

    async def _verify_dummy(self, password: str) -> tuple[bool, float]:
        secret = password.encode("utf-8")[:MAX_BYTES]
        rounds = self._dummy_rounds
        if self._dummy_hash is None:
            # The first time, hashing costs what a verification costs and yields the dummy.
            self._dummy_hash, spent = await self._run(
                "verify", rounds, bcrypt.hashpw, secret, bcrypt.gensalt(rounds)
            )
            return False, spent
        _, spent = await self._run("verify", rounds, bcrypt.checkpw, secret, self._dummy_hash)
        return False, spent

    async def _run(
        self, operation: str, cost: int, function: Callable[..., T], *args: bytes
    ) -> tuple[T, float]:
        """The result, and the seconds bcrypt ran in its thread (also learnt per cost)."""
        queued = time.perf_counter()
        async with self._slots:
            if self._on_start is not None:
                self._on_start()
            started = time.perf_counter()
            try:
                loop = asyncio.get_running_loop()
                result, began, ended = await loop.run_in_executor(
                    self._executor, _timed, function, args
                )
                # hash-wait ends when a thread picks the work up, so it holds both the
                # wait for a slot and the hand-off to the thread.
                timing.add(timing.HASH_WAIT, began - queued)
                timing.add(timing.HASH, ended - began)
                self._clock.observe(cost, ended - began)
                return result, ended - began
            except ValueError as exc:
                raise ServiceError(f"bcrypt refused its input: {exc}") from exc
            finally:
                if self._on_finish is not None:
                    self._on_finish(operation, time.perf_counter() - started)
