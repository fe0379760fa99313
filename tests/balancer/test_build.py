"""Which build of the request path runs: compiled (mypyc) while it matches its sources,
the Python sources otherwise or on request, and the same behaviour either way."""

from __future__ import annotations

import importlib.machinery
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

import balancer
from balancer import _build

PACKAGE = Path(balancer.__file__).parent
ROOT = PACKAGE.parent
SUFFIX = importlib.machinery.EXTENSION_SUFFIXES[0]


def _compiled_here() -> bool:
    return all((PACKAGE / f"{name}{SUFFIX}").is_file() for name in _build.COMPILED_MODULES)


needs_compiled = pytest.mark.skipif(
    not _compiled_here(), reason="the request path is not compiled here (no C compiler?)"
)


def _fake_build(folder: Path) -> Path:
    """A package folder holding the sources, a stand-in compiled file per module and the
    manifest a build would write."""
    package = folder / "balancer"
    package.mkdir(parents=True)
    for name in _build.COMPILED_MODULES:
        shutil.copy(PACKAGE / f"{name}.py", package / f"{name}.py")
        (package / f"{name}{SUFFIX}").write_bytes(b"")
    digests = _build.source_digests(package)
    manifest = "\n".join(f"{name} {digest}" for name, digest in digests.items())
    (package / _build.manifest_name()).write_text(manifest)
    return package


def test_a_build_is_up_to_date_while_its_sources_are_unchanged(tmp_path: Path) -> None:
    package = _fake_build(tmp_path)
    assert _build.up_to_date(package)
    with (package / "proxy.py").open("a") as source:
        source.write("# edited\n")
    assert not _build.up_to_date(package)


def test_a_build_missing_a_module_or_its_manifest_is_not_up_to_date(tmp_path: Path) -> None:
    package = _fake_build(tmp_path)
    (package / f"forward{SUFFIX}").unlink()
    assert not _build.up_to_date(package)
    package = _fake_build(tmp_path / "other")
    (package / _build.manifest_name()).unlink()
    assert not _build.up_to_date(package)


def test_the_manifest_is_per_interpreter() -> None:
    # Several Pythons may build into one working tree (.venv and .venv-3.13 here).
    abi = sysconfig.get_config_var("SOABI")
    assert abi is None or abi in _build.manifest_name()


def test_this_process_reports_the_build_its_modules_came_from() -> None:
    from balancer import forward, http11, proxy

    modules = (forward, http11, proxy)
    compiled = [m.__file__ is not None and not m.__file__.endswith(".py") for m in modules]
    assert compiled == [balancer.BUILD.compiled] * 3
    assert balancer.BUILD is _build.chosen()


def _run_copy(root: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    code = (
        "import balancer, balancer.proxy as p; "
        "print(balancer.BUILD.kind, p.__file__.rsplit('.', 1)[-1])"
    )
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=root,
        env={
            **{k: v for k, v in os.environ.items() if k != _build.PURE_ENV},
            "PYTHONPATH": str(root),
            **(env or {}),
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )


@pytest.fixture
def compiled_copy(tmp_path: Path) -> Path:
    """The installed package copied with its compiled modules (and mypyc's shared library)."""
    shutil.copytree(PACKAGE, tmp_path / "balancer", ignore=shutil.ignore_patterns("__pycache__"))
    for shared in ROOT.glob(f"balancer__mypyc*{SUFFIX}"):
        shutil.copy(shared, tmp_path)
    return tmp_path


@needs_compiled
def test_an_unchanged_build_runs_compiled(compiled_copy: Path) -> None:
    ran = _run_copy(compiled_copy)
    assert ran.stdout.split() == ["compiled", "so"]
    assert ran.stderr == ""


@needs_compiled
def test_a_source_edited_after_the_build_runs_as_python_and_says_so(
    compiled_copy: Path,
) -> None:
    with (compiled_copy / "balancer" / "rewrite.py").open("a") as source:
        source.write("# edited after the build\n")
    ran = _run_copy(compiled_copy)
    assert ran.stdout.split() == ["python", "py"]
    assert "sources changed since they were compiled" in ran.stderr


@needs_compiled
def test_pure_python_on_request(compiled_copy: Path) -> None:
    ran = _run_copy(compiled_copy, {_build.PURE_ENV: "1"})
    assert ran.stdout.split() == ["python", "py"]
