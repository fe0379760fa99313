"""Signing key material: generate, load and describe Ed25519 keys.

The lab generates one private key with :func:`generate_private_key_pem` (or
``python -m service keygen PATH``) and hands the same file to every instance, so that a
token issued by one instance verifies on all of them; the token pepper
(``python -m service pepper PATH``) is shared the same way. Both files are written by
:func:`write_private_file`.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import secrets
from pathlib import Path

import orjson
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from service.errors import ConfigError

PEPPER_BYTES = 32
#: Shortest pepper accepted: 256 bits of key for HMAC-SHA256.
MIN_PEPPER_BYTES = 32
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


def generate_private_key_pem() -> bytes:
    """A fresh Ed25519 private key as an unencrypted PKCS#8 PEM document."""
    return Ed25519PrivateKey.generate().private_bytes(
        encoding=serialization.Encoding.PEM,
        format=serialization.PrivateFormat.PKCS8,
        encryption_algorithm=serialization.NoEncryption(),
    )


def generate_pepper() -> bytes:
    """A fresh token pepper: 256 random bits as hex text (what a pepper file holds)."""
    return secrets.token_hex(PEPPER_BYTES).encode("ascii")


def write_private_file(path: Path, content: bytes) -> None:
    """Put ``content`` at ``path``, readable by its owner only, atomically.

    The bytes go to a new temporary file in the same folder, created 0600 (never through
    a umask window, never an existing file), then renamed over ``path``: a symlink at
    ``path`` is replaced, not followed, and an existing file with a looser mode is
    replaced by one with 0600 rather than written into.
    """
    folder = path.parent
    for _ in range(100):
        temporary = folder / f".{path.name}.{secrets.token_hex(6)}.tmp"
        try:
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW, 0o600)
            break
        except FileExistsError:
            continue
    else:  # pragma: no cover - 100 collisions of 48 random bits
        raise FileExistsError(f"no free temporary name in {folder}")
    try:
        with os.fdopen(fd, "wb") as handle:
            # The umask can only remove bits; fchmod makes the mode exactly 0600.
            os.fchmod(handle.fileno(), 0o600)
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def write_private_key(path: Path) -> None:
    """Write a fresh private key to ``path``, readable by its owner only."""
    write_private_file(path, generate_private_key_pem())


def write_pepper(path: Path) -> None:
    """Write a fresh token pepper to ``path``, readable by its owner only."""
    write_private_file(path, generate_pepper() + b"\n")


def load_private_key(pem: bytes) -> Ed25519PrivateKey:
    """Parse a PEM Ed25519 private key; anything else is a :class:`ConfigError`."""
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise ConfigError(f"the JWT private key is not a readable PEM private key: {exc}") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigError("the JWT private key must be an Ed25519 key (EdDSA)")
    return key


def load_public_key(pem: bytes) -> Ed25519PublicKey:
    """Parse a PEM Ed25519 public key; a private key is accepted and its public half used."""
    if b"PRIVATE KEY" in pem:
        return load_private_key(pem).public_key()
    try:
        key = serialization.load_pem_public_key(pem)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise ConfigError(f"the JWT public key is not a readable PEM public key: {exc}") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise ConfigError("the previous JWT public key must be an Ed25519 key (EdDSA)")
    return key


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def public_jwk(key: Ed25519PublicKey) -> dict[str, str]:
    """The RFC 8037 JWK members of an Ed25519 public key (without ``kid``)."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return {"kty": "OKP", "crv": "Ed25519", "x": b64url(raw)}


def key_id(key: Ed25519PublicKey) -> str:
    """The RFC 7638 thumbprint of the key: stable, and equal on every instance."""
    canonical = orjson.dumps(public_jwk(key), option=orjson.OPT_SORT_KEYS)
    return b64url(hashlib.sha256(canonical).digest())


def secret_key_id(secret: bytes) -> str:
    """A ``kid`` for an HMAC secret that reveals nothing usable about it."""
    return "hs-" + hashlib.sha256(b"authscale kid\x00" + secret).hexdigest()[:16]
