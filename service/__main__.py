"""``python -m service``: run the auth service; ``keygen PATH`` / ``pepper PATH`` write secrets;
``revoke-devices EMAIL`` revokes an account's device tokens."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from authscale.argparsing import USAGE_EXIT_CODE
from service.config import config_from_argv
from service.errors import ConfigError, ServiceError
from service.keys import write_pepper, write_private_key
from service.logs import SERVICE, setup_logging


def main(argv: Sequence[str] | None = None, prog: str = "python -m service") -> int:
    """Entry point of ``python -m service`` and of ``authscale service``."""
    try:
        args, config = config_from_argv(sys.argv[1:] if argv is None else argv, prog=prog)
    except ConfigError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return USAGE_EXIT_CODE
    if args.command in ("keygen", "pepper"):
        write = write_private_key if args.command == "keygen" else write_pepper
        try:
            write(args.path)
        except OSError as exc:
            print(f"{prog}: cannot write {args.path}: {exc.strerror}", file=sys.stderr)
            return 1
        print(args.path)
        return 0
    if args.command == "revoke-devices":
        from service import revoke

        try:
            count = revoke.run(args.email, os.environ)
        except ConfigError as exc:
            print(f"{prog}: error: {exc}", file=sys.stderr)
            return USAGE_EXIT_CODE
        except ServiceError as exc:
            print(f"{prog}: {exc}", file=sys.stderr)
            return 1
        print(f"revoked {count} device{'' if count == 1 else 's'} of {args.email}")
        return 0
    assert config is not None
    setup_logging(log_format=config.log_format, instance=config.name)
    if config.ephemeral_key:
        SERVICE.warning(
            "--dev: generated an ephemeral Ed25519 signing key; tokens from this instance "
            "will not verify on any other instance (give all instances the same "
            "AUTH_JWT_PRIVATE_KEY_FILE)"
        )
    if config.ephemeral_pepper:
        SERVICE.warning(
            "--dev: generated an ephemeral token pepper; refresh and device tokens from "
            "this instance will not work on any other instance or after a restart (give all "
            "instances the same AUTH_TOKEN_PEPPER_FILE)"
        )
    from service.app import serve  # Sanic is imported only when serving.

    try:
        serve(config)
    except ServiceError as exc:
        print(f"{prog}: cannot start: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
