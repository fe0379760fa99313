"""The bcrypt ceiling: the most auth iterations per second this machine's cores allow.

An iteration hashes once (signup) and verifies once (login); nothing else in it costs more
than a few per cent of that. The ceiling is measured, in the same run as the experiment, as
the throughput of hash + verify pairs with one thread per usable core (bcrypt releases the
GIL), because single-thread time × cores overstates what the cores deliver together.

A busy moment on the machine lowers one measurement, and a ceiling measured low makes the
runs look more efficient than they were. So the bench measures before and after each series
and keeps the best (`best`); the spread of the measurements around a series (`spread`) says
how steady the machine was, and `unsound_reasons` marks a run whose efficiency exceeds 1.0
or whose series' ceilings disagree by more than MAX_DISAGREEMENT.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace

import bcrypt

from lab.harness import procs
from lab.reporting.codec import Doc

_PASSWORD = b"correct horse battery staple"
#: Ceilings measured around one series that differ by more than this share of the best
#: make its runs unsound: the machine's capacity changed while they ran.
MAX_DISAGREEMENT = 0.05


@dataclass(frozen=True, kw_only=True)
class Ceiling(Doc):
    """bcrypt hash + verify pairs/s on this machine: one pair is one iteration's bcrypt work.

    `measure` returns one measurement; `kept` the one results.json stores: the best
    measurement's figures, rounded, with every measurement and their spread."""

    bcrypt_cost: int
    hash_ms: float
    verify_ms: float
    threads: int
    pairs_per_s_parallel: float
    pairs_per_s_single_thread: float
    #: When it was measured ("before shared-host", "after cpu-limited", …); for the kept
    #: ceiling, when the best measurement was taken. Then every measurement and their spread
    #: ((highest − lowest) ÷ highest). A bench that measured once has none of the three.
    taken: str | None = None
    spread: float | None = None
    measurements: tuple[Ceiling, ...] = ()

    def iterations_per_s(self, usable_cores: float) -> float:
        """The ceiling for instances that may use `usable_cores` cores in all."""
        return self.pairs_per_s_parallel * usable_cores / self.threads

    def rounded(self) -> Ceiling:
        """This measurement as results.json stores it: figures to 4 decimals."""
        return replace(
            self,
            hash_ms=round(self.hash_ms, 4),
            verify_ms=round(self.verify_ms, 4),
            pairs_per_s_parallel=round(self.pairs_per_s_parallel, 4),
            pairs_per_s_single_thread=round(self.pairs_per_s_single_thread, 4),
        )

    def to_dict(self) -> dict[str, float | int | str | None]:
        """The measurement's own figures, rounded, and when it was taken."""
        shown = self.rounded()
        return {
            "bcrypt_cost": shown.bcrypt_cost,
            "hash_ms": shown.hash_ms,
            "verify_ms": shown.verify_ms,
            "threads": shown.threads,
            "pairs_per_s_parallel": shown.pairs_per_s_parallel,
            "pairs_per_s_single_thread": shown.pairs_per_s_single_thread,
            "taken": shown.taken,
        }


def usable_cores(cpus_per_instance: float | None, instances: int, host_cores: float) -> float:
    """Cores `instances` may use in all: the host's, or the sum of their CPU quotas when
    they have one (at most the host's)."""
    if cpus_per_instance is None:
        return float(host_cores)
    return min(float(host_cores), cpus_per_instance * instances)


def best(measurements: Sequence[Ceiling]) -> Ceiling:
    """The highest measurement: other work on the machine can only lower a ceiling."""
    if not measurements:
        raise ValueError("best needs at least one measurement")
    return max(measurements, key=lambda c: c.pairs_per_s_parallel)


def spread(pairs_per_s: Sequence[float]) -> float:
    """(highest − lowest) ÷ highest: 0.0 when the measurements agree (or there is one)."""
    if not pairs_per_s or max(pairs_per_s) <= 0:
        return 0.0
    return (max(pairs_per_s) - min(pairs_per_s)) / max(pairs_per_s)


def unsound_reasons(efficiency: float | None, series_pairs_per_s: Sequence[float]) -> list[str]:
    """Why a run's ceiling cannot be trusted (empty when it can): an efficiency above 1.0
    means the ceiling was measured low; ceilings around its series that disagree by more
    than MAX_DISAGREEMENT mean the machine's capacity changed during the series."""
    reasons = []
    if efficiency is not None and efficiency > 1.0:
        reasons.append(
            f"efficiency {efficiency:.3f} exceeds 1.0: the bcrypt ceiling was measured lower "
            "than what the run achieved (the machine was busy with other work while it was "
            "measured)"
        )
    disagreement = spread(series_pairs_per_s)
    if disagreement > MAX_DISAGREEMENT:
        low, high = min(series_pairs_per_s), max(series_pairs_per_s)
        reasons.append(
            f"the bcrypt ceilings measured before and after its series disagree by "
            f"{disagreement * 100:.1f} % ({low:.2f}–{high:.2f} pairs/s), more than "
            f"{MAX_DISAGREEMENT * 100:g} %: the machine's capacity changed while it ran"
        )
    return reasons


def slower_in_parallel(measured: Ceiling) -> bool:
    """Several threads together doing fewer pairs/s than one alone: bcrypt releases the GIL,
    so that happens only when other work took the cores while it was measured."""
    return measured.threads > 1 and (
        measured.pairs_per_s_parallel < measured.pairs_per_s_single_thread
    )


def slower_in_parallel_reason(measured: Ceiling) -> str:
    where = f" {measured.taken}" if measured.taken else ""
    return (
        f"the bcrypt ceiling measured{where} did {measured.pairs_per_s_parallel:.2f} pairs/s "
        f"on {measured.threads} threads, fewer than {measured.pairs_per_s_single_thread:.2f} "
        "on one: the machine was busy while it was measured"
    )


#: Pairs each thread should complete in the parallel window for a steady figure.
PAIRS_PER_THREAD = 25


def window_s(longest: float, pair_s: float) -> float:
    """The parallel window: long enough for PAIRS_PER_THREAD pairs per thread, at least 1 s,
    at most `longest`. The bench measures several times, so a low cost gains nothing from
    a long window."""
    return min(longest, max(1.0, PAIRS_PER_THREAD * pair_s))


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


def measure(
    cost: int, *, seconds: float = 3.0, threads: int | None = None, taken: str = ""
) -> Ceiling:
    threads = threads or len(procs.usable_cpus())
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
        pairs_per_s_parallel=_parallel_pairs_per_s(
            cost, threads, window_s(seconds, hash_s + verify_s)
        ),
        pairs_per_s_single_thread=1.0 / (hash_s + verify_s),
        taken=taken,
    )


def kept(measurements: Sequence[Ceiling]) -> Ceiling:
    """The `ceiling` of results.json: the best measurement's figures, which figure in every
    efficiency, then every measurement and their spread."""
    return replace(
        best(measurements).rounded(),
        spread=round(spread([m.pairs_per_s_parallel for m in measurements]), 4),
        measurements=tuple(m.rounded() for m in measurements),
    )
