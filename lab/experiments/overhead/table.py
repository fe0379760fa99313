"""The markdown tables of bench-overhead: CPU per iteration, system calls, Server-Timing
phases."""

from __future__ import annotations

from collections.abc import Sequence

from lab.experiments.overhead.profile import SAMPLE_RATE_HZ
from lab.experiments.overhead.rows import Row
from lab.experiments.overhead.settings import OverheadConfig
from loadgen import servertiming

TOP_SYSCALLS = 8
#: Server-Timing phases as they happen (the handler's, `app`, the balancer's); others follow.
PHASE_ORDER = servertiming.ORDER


def _table(header: Sequence[str], rows: Sequence[Sequence[object]], left: int = 1) -> list[str]:
    rule = "| " + " | ".join(["---"] * left + ["---:"] * (len(header) - left)) + " |"
    lines = ["| " + " | ".join(header) + " |", rule]
    return lines + ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]


def render(
    rows: Sequence[Row], cfg: OverheadConfig, strace_note: str = "", wall_hash_ms: float = 0.0
) -> str:
    """The tables (markdown): CPU per iteration, system calls, Server-Timing phases."""
    lines = [
        f"One service instance, bcrypt cost {cfg.bcrypt_cost}; per VU count a "
        f"{cfg.warmup_s:g} s warm-up, then a {cfg.duration_s:g} s window. CPU in ms. "
        "outside bcrypt = service CPU − 2 × a lone thread's hash; it splits into the main "
        "(event-loop) thread and the hashing threads' excess over 2 lone hashes.",
    ]
    if rows and wall_hash_ms:
        lines.append(
            f"A lone thread's hash: {rows[0].lone_hash_ms:.2f} ms by its CPU clock, "
            f"{wall_hash_ms:.2f} ms by lab.reporting.ceiling's wall clock "
            "(they part when other work runs)."
        )
    lines.append("")
    lines += _table(
        ["VUs", "it/s", "CPU/it", "outside bcrypt/it", "main thread/it", "hashing excess/it",
         "hashing threads/hash", "lone thread/hash", "ctx switches/it vol / invol (main)",
         "read / write calls/it"],
        [
            [r.vus, f"{r.iterations_per_s:.2f}", f"{r.cpu_ms_per_it:.1f}",
             f"{r.outside_bcrypt_ms_per_it:.2f}", f"{r.main_ms_per_it:.2f}",
             f"{r.hashing_excess_ms_per_it:.2f}", f"{r.other_threads_ms_per_hash:.2f}",
             f"{r.lone_hash_ms:.2f}",
             "{voluntary:.1f} / {involuntary:.1f} ({main_voluntary:.1f} / "
             "{main_involuntary:.1f})".format(**r.ctx_per_it),
             "{read:.1f} / {write:.1f}".format(**r.io_per_it)]
            for r in rows
        ],
    )  # fmt: skip
    traced = [r for r in rows if r.syscalls_per_it]
    if traced:
        counts = [r.syscalls_per_it or {} for r in traced]
        names = list(dict.fromkeys(n for c in counts for n in list(c)[:TOP_SYSCALLS]))
        lines += ["", f"System calls per iteration (strace -c -f; the top {TOP_SYSCALLS} of "
                  "each, counted in a phase at the same load before the window):", ""]  # fmt: skip
        lines += _table(
            ["syscall", *(f"{r.vus} VUs" for r in traced)],
            [[n, *(f"{c.get(n, 0.0):.1f}" for c in counts)] for n in names]
            + [["all", *(f"{sum(c.values()):.1f}" for c in counts)]]
            + [["iterations traced", *(f"{r.strace_iterations:.0f}" for r in traced)]],
        )
    if strace_note:
        lines += ["", strace_note]
    lines += _profile_table(rows)
    if any(r.phases_ms for r in rows):
        found = {p for r in rows for got in r.phases_ms.values() for p in got}
        phases = sorted(found, key=lambda p: (PHASE_ORDER.index(p) if p in PHASE_ORDER else 9, p))
        lines += ["", "Server-Timing, average ms per step in the window:", ""]
        lines += _table(
            ["VUs", "step", *phases],
            [
                [r.vus, step, *(f"{got[p]:.2f}" if p in got else "–" for p in phases)]
                for r in rows
                for step, got in r.phases_ms.items()
            ],
            left=2,
        )
    return "\n".join(lines) + "\n"


def _profile_table(rows: Sequence[Row]) -> list[str]:
    """The event-loop thread's ms per iteration by where it ran, from py-spy's samples."""
    profiled = [r for r in rows if r.profile_samples]
    if not profiled:
        return []
    names = list(dict.fromkeys(n for r in profiled for n in r.profile_ms_per_it))
    lines = ["", "The main (event-loop) thread's CPU per iteration by where it ran (py-spy, "
             f"{SAMPLE_RATE_HZ} Hz, in a phase at the same load before the window; ms, and "
             "the share of its samples):", ""]  # fmt: skip

    def cell(r: Row, name: str) -> str:
        ms = r.profile_ms_per_it.get(name, 0.0)
        return f"{ms:.2f} ({ms / r.main_ms_per_it * 100:.0f} %)" if r.main_ms_per_it else "–"

    return lines + _table(
        ["where", *(f"{r.vus} VUs" for r in profiled)],
        [[name, *(cell(r, name) for r in profiled)] for name in names]
        + [["samples", *(str(r.profile_samples) for r in profiled)]],
    )
