"""The event-loop thread's CPU by where it ran: ``py-spy record`` in a phase of its own
before the window, its stacks sorted into categories (pure) by the first frame, from the
innermost outwards, that belongs to a known library or to the service.

py-spy samples with ``--nonblocking`` (it reads the service's memory without stopping it)
and drops idle samples, so the shares are of CPU, not of wall time. A hashing thread's
stacks start in ``threading``; every other stack is the event loop's (uvloop calls
coroutines from C, so many of them start at a coroutine, not at ``main``).
"""

from __future__ import annotations

import shutil
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

from lab.experiments.overhead.attached import AttachedTool
from lab.harness import procs

PROFILER_MISSING = (
    "py-spy is not on PATH nor beside this Python: the event-loop thread's profile is skipped "
    "(pip install py-spy)"
)
#: Samples per second: the event-loop thread is busy a few per cent of the time, so a high
#: rate gives a few hundred of its samples in a phase of seconds.
SAMPLE_RATE_HZ = 400

EVENT_LOOP = "event loop (uvloop: epoll, callbacks, socket reads)"
#: category → path prefixes of the frames that belong to it, in the order they are tried.
_CRYPTO = ("jwt/", "cryptography/", "hmac.py", "hashlib.py", "secrets.py", "random.py")
_METRICS = ("prometheus_client/", "service/metrics.py", "service/timing.py")
#: category → path parts of the frames that belong to it, in the order they are tried.
CATEGORIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    (EVENT_LOOP, ("sanic/server/runners.py", "uvloop/")),
    ("HTTP server (Sanic: parsing, routing, writing responses)", ("sanic/", "httptools/")),
    ("Redis client (redis-py, hiredis)", ("redis/", "hiredis/")),
    ("Postgres client (asyncpg)", ("asyncpg/",)),
    ("JWT, MACs, randomness", (*_CRYPTO, "base64.py", "service/tokens.py", "service/pepper.py")),
    ("logging", ("logging/", "service/logs.py")),
    ("handing hashes to threads", ("concurrent/futures/", "threading.py", "service/passwords.py")),
    ("metrics and Server-Timing", _METRICS),
    ("e-mail and input checks", ("email_validator/", "idna/", "service/emails.py")),
    ("the service's own code (routes, sessions, throttle)", ("service/",)),
)
#: Frames that run on behalf of whatever called them (looked through).
PASS_THROUGH = ("asyncio/", "contextlib.py", "functools.py", "typing.py", "<frozen", "abc.py")
OTHER = "other"


def py_spy() -> str | None:
    """py-spy on PATH, or installed into this Python's environment (not activated)."""
    beside = Path(sys.executable).parent / "py-spy"
    return shutil.which("py-spy") or (str(beside) if beside.is_file() else None)


def frame_file(frame: str) -> str:
    """``func (path/file.py:12)`` → ``path/file.py``; Sanic's generated methods, whose file is
    their own name (``send (send)``), → ``sanic/``."""
    start = frame.rfind(" (")
    where = frame[start + 2 : -1] if start >= 0 else ""
    path = where.rsplit(":", 1)[0]
    if path and "/" not in path and not path.endswith(".py") and not path.startswith("<"):
        return "sanic/"
    return path


def category(frames: list[str]) -> str:
    for frame in reversed(frames):
        path = frame_file(frame)
        if not path or path.startswith(PASS_THROUGH):
            continue
        for name, prefixes in CATEGORIES:
            if any(prefix in path for prefix in prefixes):
                return name
        return OTHER
    return EVENT_LOOP


def main_thread_stacks(raw: str) -> Iterator[tuple[list[str], int]]:
    """(frames outermost first, samples) of py-spy's raw output, the hashing threads' left out."""
    for line in raw.splitlines():
        stack, _, count = line.rstrip().rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = stack.split(";")
        if frames[0].startswith(("Thread._bootstrap", "_bootstrap (threading")):
            continue
        yield frames, int(count)


def shares(raw: str) -> tuple[dict[str, float], int]:
    """category → share of the event-loop thread's samples (largest first), and the count."""
    counts: Counter[str] = Counter()
    for frames, samples in main_thread_stacks(raw):
        counts[category(frames)] += samples
    total = sum(counts.values())
    return ({name: n / total for name, n in counts.most_common()} if total else {}), total


class Profiler(AttachedTool):
    """``py-spy record`` of the service from start() to stop()."""

    tool: ClassVar[str] = "py-spy"

    @property
    def out(self) -> Path:
        return self.run_dir / "py-spy.txt"

    def argv(self) -> list[str]:
        return [py_spy() or "py-spy", "record", "--pid", str(self.pid),
                "--rate", str(SAMPLE_RATE_HZ), "--nonblocking",
                "--format", "raw", "--output", str(self.out)]  # fmt: skip

    def result(self) -> tuple[dict[str, float], int]:
        found = shares(self.out.read_text()) if self.ended and self.out.exists() else ({}, 0)
        if self.ended and not found[1]:
            log = procs.log_tail(self.log, 3)
            print(f"py-spy sampled nothing for pid {self.pid}: {log}", file=sys.stderr)
        return found
