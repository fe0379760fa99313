"""The bcrypt ceiling: the most auth iterations per second this machine's cores allow.

An iteration hashes once (signup) and verifies once (login); nothing else in it costs more
than a few per cent of that. The ceiling is measured, in the same run as the experiment, as
the throughput of hash + verify pairs with one thread per usable core (bcrypt releases the
GIL), because single-thread time × cores overstates what the cores deliver together.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import asdict, dataclass

import bcrypt

_PASSWORD = b"correct horse battery staple"


@dataclass(frozen=True)
class Ceiling:
    bcrypt_cost: int
    hash_ms: float
    verify_ms: float
    threads: int
    pairs_per_s_parallel: float
    pairs_per_s_single_thread: float

    def iterations_per_s(self, usable_cores: float) -> float:
        """The ceiling for instances that may use `usable_cores` cores in all."""
        return self.pairs_per_s_parallel * usable_cores / self.threads

    def to_dict(self) -> dict[str, float | int]:
        return {k: round(v, 4) if isinstance(v, float) else v for k, v in asdict(self).items()}


def _pairs(cost: int, seconds: float, counts: list[int], slot: int) -> None:
    salt = bcrypt.gensalt(cost)
    deadline = time.perf_counter() + seconds
    done = 0
    while time.perf_counter() < deadline:
        hashed = bcrypt.hashpw(_PASSWORD, salt)
        bcrypt.checkpw(_PASSWORD, hashed)
        done += 1
    counts[slot] = done


def _parallel_pairs_per_s(cost: int, threads: int, seconds: float) -> float:
    counts = [0] * threads
    workers = [
        threading.Thread(target=_pairs, args=(cost, seconds, counts, i)) for i in range(threads)
    ]
    began = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return sum(counts) / (time.perf_counter() - began)


def measure(cost: int, *, seconds: float = 3.0, threads: int | None = None) -> Ceiling:
    threads = threads or len(os.sched_getaffinity(0))
    salt = bcrypt.gensalt(cost)
    samples = max(3, int(0.5 / (0.001 * 2 ** (cost - 4)) + 1))
    began = time.perf_counter()
    for _ in range(samples):
        hashed = bcrypt.hashpw(_PASSWORD, salt)
    hash_s = (time.perf_counter() - began) / samples
    began = time.perf_counter()
    for _ in range(samples):
        bcrypt.checkpw(_PASSWORD, hashed)
    verify_s = (time.perf_counter() - began) / samples
    return Ceiling(
        bcrypt_cost=cost,
        hash_ms=hash_s * 1000,
        verify_ms=verify_s * 1000,
        threads=threads,
        pairs_per_s_parallel=_parallel_pairs_per_s(cost, threads, seconds),
        pairs_per_s_single_thread=1.0 / (hash_s + verify_s),
    )
