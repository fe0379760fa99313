"""One owner per state folder: a lock held for the owner's lifetime (it dies with its
holder), and infra.json, which tells a second lab the running one's pid and URLs."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from pathlib import Path
from typing import IO, Any

from lab.errors import AlreadyRunning


def acquire(state_dir: Path) -> IO[str]:
    """Take the state folder's lock, or raise AlreadyRunning naming the running lab."""
    state_dir.mkdir(parents=True, exist_ok=True)
    lock = open(state_dir / "infra.lock", "a+")  # noqa: SIM115 - held for the owner's lifetime
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.close()
        running = read_state(state_dir)
        where = ""
        if running:
            where = (
                f" (pid {running.get('pid')}):\n  DATABASE_URL={running.get('database_url')}\n"
                f"  REDIS_URL={running.get('redis_url')}\n"
            )
        raise AlreadyRunning(
            f"another lab already runs the infrastructure in {state_dir}{where}"
            "Reuse it by exporting those URLs, stop it with `python -m lab infra down`, "
            "or choose another state folder (LAB_STATE_DIR)."
        ) from None
    return lock


def release(state_dir: Path, lock: IO[str]) -> None:
    forget_state(state_dir)
    lock.close()


def read_state(state_dir: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((state_dir / "infra.json").read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def write_state(state_dir: Path, *, database_url: str, redis_url: str) -> None:
    (state_dir / "infra.json").write_text(
        json.dumps({"pid": os.getpid(), "database_url": database_url, "redis_url": redis_url})
    )


def forget_state(state_dir: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        (state_dir / "infra.json").unlink()


def owner_alive(state_dir: Path) -> bool:
    """True while a lab holds the state folder's lock (the lock dies with its holder)."""
    try:
        with open(state_dir / "infra.lock", "a+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return False
    return False
