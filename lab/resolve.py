"""`python -m lab.resolve` (`make resolve-matrix`): does `authscale[lab]` install from the
package index for each supported Python and platform, and from what?

Each cell resolves the project with its `lab` extra, under the versions constraints.txt
pins (what `make install` uses), for one Python version and platform without installing
anything:

- Linux x86-64 and macOS arm64 with `pip install --dry-run --only-binary=:all:` (wheels only:
  nothing needs a compiler). pip does not widen an explicit `--platform`, so each cell names
  every tag a user's pip would accept (manylinux_2_28 … manylinux2014; macOS 11 … 15).
- Linux aarch64 with `uv pip compile --python-platform`, wheels only except the packages in
  SDIST_ONLY, which publish no aarch64 wheel and build there from their sdist with the
  system C compiler (pip cannot mix `--platform` with sdists). `--build-sdists` also builds
  those sdists here, to show they compile.

The exit status is 0 when every cell resolves.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from authscale.argparsing import ArgumentParser

REPO = Path(__file__).resolve().parents[1]
LOCK = REPO / "constraints.txt"
PYTHONS = ("3.12", "3.13", "3.14")
LINUX_X86_64 = tuple(
    f"{tag}_x86_64"
    for tag in ("manylinux_2_28", "manylinux_2_27", "manylinux_2_17", "manylinux2014")
)
MACOS_ARM64 = tuple(f"macosx_{major}_0_arm64" for major in (15, 14, 13, 12, 11)) + tuple(
    f"macosx_{major}_0_universal2" for major in (15, 14, 13, 12, 11)
)
#: Packages with no Linux aarch64 wheel: they build from source there (checked: a C
#: extension that the system compiler builds).
SDIST_ONLY = ("hdrhistogram",)


@dataclass(frozen=True, kw_only=True)
class Cell:
    python: str
    platform: str  # what the table calls it
    tags: tuple[str, ...] = ()  # pip --platform values (empty: resolved with uv)
    uv_platform: str = ""


@dataclass(frozen=True, kw_only=True)
class Outcome:
    cell: Cell
    ok: bool
    packages: int
    seconds: float
    detail: str


def cells(pythons: Sequence[str] = PYTHONS) -> list[Cell]:
    out = []
    for python in pythons:
        out.append(Cell(python=python, platform="linux x86-64", tags=LINUX_X86_64))
        out.append(Cell(python=python, platform="macos arm64", tags=MACOS_ARM64))
        out.append(
            Cell(python=python, platform="linux aarch64", uv_platform="aarch64-manylinux_2_28")
        )
    return out


def pip_command(cell: Cell, target: Path, report: Path) -> list[str]:
    argv = [sys.executable, "-m", "pip", "install", "--dry-run", "--quiet", "--no-color"]
    argv += ["--only-binary=:all:", "--python-version", cell.python, "--target", str(target)]
    argv += ["--report", str(report), "--constraint", str(LOCK)]
    for tag in cell.tags:
        argv += ["--platform", tag]
    return [*argv, f"{REPO}[lab]"]


def locked_names(lock: Path = LOCK) -> list[str]:
    """The package names constraints.txt pins."""
    names = []
    for line in lock.read_text().splitlines():
        if "==" in line and not line.lstrip().startswith("#"):
            names.append(line.split("==", 1)[0].strip())
    return names


def uv_command(cell: Cell, uv: str, output: Path) -> list[str]:
    argv = [uv, "pip", "compile", str(REPO / "setup.cfg"), "--extra", "lab", "--quiet"]
    argv += ["--python-platform", cell.uv_platform, "--python-version", cell.python]
    argv += ["--no-header", "--output-file", str(output), "--constraint", str(LOCK)]
    # Wheels only for every locked package but SDIST_ONLY, named one by one: uv's
    # `--only-binary :all:` also forbids building the sdists `--no-binary` lets in.
    for name in locked_names():
        if name not in SDIST_ONLY:
            argv += ["--only-binary", name]
    return argv


def _last_error(text: str) -> str:
    lines = [ln for ln in text.splitlines() if ln.strip() and "WARNING: Location" not in ln]
    errors = [ln for ln in lines if "error" in ln.lower() or "because" in ln.lower()]
    return (errors or lines or ["failed"])[-1].strip()[:200]


def resolve(cell: Cell, uv: str | None) -> Outcome:
    began = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="authscale-resolve-") as folder:
        work = Path(folder)
        if cell.tags:
            report = work / "report.json"
            argv = pip_command(cell, work / "target", report)
        else:
            if uv is None:
                return Outcome(cell=cell, ok=False, packages=0, seconds=0.0, detail="no uv")
            report = work / "lock.txt"
            argv = uv_command(cell, uv, report)
        done = subprocess.run(argv, capture_output=True, text=True, timeout=600, check=False)
        seconds = time.monotonic() - began
        if done.returncode != 0:
            detail = _last_error(done.stderr + done.stdout)
            return Outcome(cell=cell, ok=False, packages=0, seconds=seconds, detail=detail)
        if cell.tags:
            packages = len(json.loads(report.read_text())["install"])
            detail = "wheels only"
        else:
            packages = sum(1 for ln in report.read_text().splitlines() if "==" in ln)
            detail = f"wheels, and sdists of {', '.join(SDIST_ONLY)}"
    return Outcome(cell=cell, ok=True, packages=packages, seconds=seconds, detail=detail)


def build_sdists() -> Outcome:
    """Build the SDIST_ONLY packages from source here, as an aarch64 user's pip would."""
    began = time.monotonic()
    cell = Cell(python=".".join(map(str, sys.version_info[:2])), platform="sdist build here")
    with tempfile.TemporaryDirectory(prefix="authscale-sdist-") as folder:
        argv = [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-cache-dir"]
        argv += ["--no-binary", ",".join(SDIST_ONLY), "--wheel-dir", folder, *SDIST_ONLY]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=600, check=False)
        built = sorted(p.name for p in Path(folder).glob("*.whl"))
    ok = done.returncode == 0 and len(built) == len(SDIST_ONLY)
    detail = ", ".join(built) if ok else _last_error(done.stderr)
    return Outcome(
        cell=cell, ok=ok, packages=len(built), seconds=time.monotonic() - began, detail=detail
    )


def table(outcomes: Sequence[Outcome]) -> str:
    rows = [
        "| Python | platform | resolves | packages | from | seconds |",
        "|---|---|---|---|---|---|",
    ]
    for o in outcomes:
        rows.append(
            f"| {o.cell.python} | {o.cell.platform} | {'yes' if o.ok else 'NO'} | "
            f"{o.packages or '–'} | {o.detail} | {o.seconds:.0f} |"
        )
    return "\n".join(rows)


def main(argv: Sequence[str] | None = None, prog: str = "python -m lab.resolve") -> int:
    parser = ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0])
    parser.add_argument("--python", action="append", help="only these versions (3.12 …)")
    parser.add_argument("--jobs", type=int, default=3, help="resolutions at once (3)")
    parser.add_argument("--build-sdists", action="store_true", help="also build SDIST_ONLY")
    args = parser.parse_args(argv)
    beside = Path(sys.executable).with_name("uv")  # the dev extra installs uv in the venv
    uv = shutil.which("uv") or (str(beside) if beside.exists() else None)
    wanted = cells(tuple(args.python) if args.python else PYTHONS)
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        outcomes = list(pool.map(lambda cell: resolve(cell, uv), wanted))
    if args.build_sdists:
        outcomes.append(build_sdists())
    print(table(outcomes))
    return 0 if all(o.ok for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
