#!/usr/bin/env python3
"""Create a deployment's shared secrets once, keeping any that already exist.

    authscale-keygen [--jwt-key PATH] [--admin-token PATH] [--pepper PATH]

--jwt-key      an Ed25519 private key (PEM, PKCS#8) for signing access tokens. Every
               replica must sign with the same key, or a token issued by one replica is
               refused by the next (which is why `--dev`'s per-process key is not enough).
--admin-token  a random bearer token for the balancer's admin API, which Prometheus also
               presents when it scrapes the balancer's /metrics.
--pepper       the server pepper under which Redis holds refresh tokens and sessions
               (AUTH_TOKEN_PEPPER_FILE), shared by every replica like the signing key.

Files are created exclusively (never overwritten, unlike `python -m service keygen PATH`,
whose key format this shares), so running it on every `up` is safe and a key in use is
never replaced behind running replicas.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
from pathlib import Path

from service.keys import generate_pepper, generate_private_key_pem

# Only the owner (the service's uid) reads the signing key.
JWT_KEY_MODE = 0o400
# Prometheus reads the token under its own uid; the file lives on a volume mounted only
# into the balancer and Prometheus.
ADMIN_TOKEN_MODE = 0o444


def admin_token() -> bytes:
    return secrets.token_urlsafe(32).encode("ascii")


def write_once(path: Path, content: bytes, mode: int) -> bool:
    """Write ``content`` to a new file at ``path``; return False if it already existed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    try:
        os.write(fd, content)
        os.fchmod(fd, mode)
    finally:
        os.close(fd)
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="authscale-keygen", description=__doc__.split("\n")[0])
    parser.add_argument("--jwt-key", type=Path, help="path of the Ed25519 signing key")
    parser.add_argument("--admin-token", type=Path, help="path of the balancer admin token")
    parser.add_argument("--pepper", type=Path, help="path of the token pepper")
    args = parser.parse_args(argv)
    if args.jwt_key is None and args.admin_token is None and args.pepper is None:
        parser.error("nothing to do: give --jwt-key, --admin-token and/or --pepper")
    if args.jwt_key is not None:
        created = write_once(args.jwt_key, generate_private_key_pem(), JWT_KEY_MODE)
        print(f"{'created' if created else 'kept existing'} JWT signing key {args.jwt_key}")
    if args.admin_token is not None:
        created = write_once(args.admin_token, admin_token(), ADMIN_TOKEN_MODE)
        print(f"{'created' if created else 'kept existing'} admin token {args.admin_token}")
    if args.pepper is not None:
        created = write_once(args.pepper, generate_pepper(), JWT_KEY_MODE)
        print(f"{'created' if created else 'kept existing'} token pepper {args.pepper}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
