"""The secrets the lab hands its instances (signing key, token pepper) are written for
their owner only from the first byte, and never through a symlink."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from lab.harness.topology import write_signing_key, write_token_pepper
from service.keys import load_private_key


@pytest.fixture
def open_umask() -> Iterator[None]:
    """A umask that removes nothing: a file created and chmod'ed after would be 0666 first."""
    previous = os.umask(0)
    try:
        yield
    finally:
        os.umask(previous)


@pytest.mark.usefixtures("open_umask")
@pytest.mark.parametrize("write", [write_signing_key, write_token_pepper])
def test_written_0600_over_a_symlink_without_following_it(tmp_path: Path, write: object) -> None:
    target = tmp_path / "someone-elses-file"
    target.write_bytes(b"keep me")
    target.chmod(0o644)
    link = tmp_path / "secret"
    link.symlink_to(target)
    write(link)  # type: ignore[operator]
    assert target.read_bytes() == b"keep me"
    assert not link.is_symlink()
    assert stat.S_IMODE(link.stat().st_mode) == 0o600


def test_the_key_is_a_usable_ed25519_key_and_the_pepper_has_256_bits(tmp_path: Path) -> None:
    key = write_signing_key(tmp_path / "run" / "key.pem")
    assert load_private_key(key.read_bytes()) is not None
    pepper = write_token_pepper(tmp_path / "run" / "pepper")
    assert len(bytes.fromhex(pepper.read_text().strip())) == 32
