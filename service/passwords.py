"""Passwords: the signup policy, and bcrypt run in a bounded thread pool.

bcrypt releases the GIL, so hashing in a thread pool lets one process use every core while
the event loop keeps serving. A semaphore bounds the hashes in flight to the pool's size so
waiting requests queue where they can still be cancelled.
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
        hashed = await self._run("hash", bcrypt.hashpw, secret, salt)
        return hashed.decode("ascii")

    async def verify(self, password: str, hashed: str) -> bool:
        """Whether ``password`` matches ``hashed``; never raises for a bad password."""
        secret = password.encode("utf-8")
        if len(secret) > MAX_BYTES:
            await self.verify_unknown(password)
            return False
        return await self._run("verify", bcrypt.checkpw, secret, hashed.encode("ascii"))

    async def verify_unknown(self, password: str) -> bool:
        """Spend the time a real verification takes, for an account that does not exist."""
        secret = password.encode("utf-8")[:MAX_BYTES]
        if self._dummy_hash is None:
            # The first time, hashing costs what a verification costs and yields the dummy.
            self._dummy_hash = await self._run(
                "verify", bcrypt.hashpw, secret, bcrypt.gensalt(self._dummy_rounds)
            )
            return False
        await self._run("verify", bcrypt.checkpw, secret, self._dummy_hash)
        return False

    async def _run(self, operation: str, function: Callable[..., T], *args: bytes) -> T:
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
                return result
            except ValueError as exc:
                raise ServiceError(f"bcrypt refused its input: {exc}") from exc
            finally:
                if self._on_finish is not None:
                    self._on_finish(operation, time.perf_counter() - started)
