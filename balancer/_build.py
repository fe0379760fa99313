"""Which build of the request path runs: compiled with mypyc, or the Python sources.

``setup.py`` compiles :data:`COMPILED_MODULES` where it can and writes, beside them, a
manifest of the sources' digests. A compiled module shadows its source, so a source edited
after the build (a working tree, a checkout) would silently run the old code: when the
manifest no longer matches — or ``BALANCER_PURE_PYTHON=1`` asks for it — the package
imports the sources instead. This module imports nothing of the package and is never
compiled itself (``setup.py`` reads it before anything is built).
"""

from __future__ import annotations

import hashlib
import importlib.abc
import importlib.machinery
import importlib.util
import os
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

#: The modules a proxied request runs through (``balancer.<name>``).
COMPILED_MODULES = (
    "backends",
    "context",
    "dispatch",
    "exchange",
    "forward",
    "health",
    "http11",
    "pool",
    "proxy",
    "rewrite",
    "selection",
    "timeouts",
    "upstream",
)
PURE_ENV = "BALANCER_PURE_PYTHON"
PACKAGE = Path(__file__).parent


@dataclass(frozen=True)
class Build:
    """``kind`` is ``compiled`` or ``python``; ``reason`` says why Python runs."""

    kind: str
    reason: str = ""

    @property
    def compiled(self) -> bool:
        return self.kind == "compiled"

    def describe(self) -> str:
        return "compiled (mypyc)" if self.compiled else f"pure Python ({self.reason})"


def manifest_name() -> str:
    """The manifest of this interpreter's build: builds for several Pythons can share one
    source tree, each with its own compiled modules."""
    abi = sysconfig.get_config_var("SOABI") or sys.implementation.cache_tag or "unknown"
    return f"_compiled-{abi}.txt"


def source_digests(package: Path) -> dict[str, str]:
    return {
        name: hashlib.sha256((package / f"{name}.py").read_bytes()).hexdigest()
        for name in COMPILED_MODULES
    }


def _compiled_present(package: Path) -> list[str]:
    suffixes = importlib.machinery.EXTENSION_SUFFIXES
    return [
        name
        for name in COMPILED_MODULES
        if any((package / f"{name}{suffix}").is_file() for suffix in suffixes)
    ]


def _manifest_matches(package: Path) -> bool:
    try:
        recorded = dict(
            line.split(" ", 1) for line in (package / manifest_name()).read_text().splitlines()
        )
        return recorded == source_digests(package)
    except (OSError, ValueError):
        return False


def up_to_date(package: Path = PACKAGE) -> bool:
    """Whether every module of the request path is compiled from its current source."""
    return _all_compiled(_compiled_present(package), package)


def _all_compiled(present: list[str], package: Path) -> bool:
    return len(present) == len(COMPILED_MODULES) and _manifest_matches(package)


class _SourcesFirst(importlib.abc.MetaPathFinder):
    """Finds the request path's modules as their ``.py`` sources, ahead of the compiled
    ones the path-based finder would prefer."""

    def __init__(self, package: Path) -> None:
        self.package = package

    def find_spec(
        self,
        fullname: str,
        path: object = None,
        target: ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        package, _, name = fullname.partition(".")
        if package != "balancer" or name not in COMPILED_MODULES:
            return None
        return importlib.util.spec_from_file_location(fullname, self.package / f"{name}.py")


_chosen: Build | None = None


def chosen() -> Build:
    """The build :func:`select` chose for this process."""
    if _chosen is None:
        raise RuntimeError("balancer._build.select() has not run")
    return _chosen


def select(package: Path = PACKAGE) -> Build:
    """Decide which build runs; call before any module of the request path is imported."""
    global _chosen
    _chosen = _decide(package)
    return _chosen


def _decide(package: Path) -> Build:
    present = _compiled_present(package)
    if not present:
        return Build("python", "not compiled")
    if os.environ.get(PURE_ENV, "") not in {"", "0"}:
        reason = f"{PURE_ENV} is set"
    elif not _all_compiled(present, package):
        reason = "its sources changed since they were compiled; reinstall to compile them"
        print(f"balancer: running pure Python: {reason}", file=sys.stderr)
    else:
        return Build("compiled")
    sys.meta_path.insert(0, _SourcesFirst(package))
    return Build("python", reason)
