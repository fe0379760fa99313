"""``python -m service``: run the auth service, or ``python -m service keygen PATH``."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from service.config import config_from_argv
from service.errors import ConfigError, ServiceError
from service.keys import write_private_key
from service.logs import SERVICE, setup_logging


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m service`` and of the ``authscale-service`` script."""
    try:
        args, config = config_from_argv(sys.argv[1:] if argv is None else argv)
    except ConfigError as exc:
        print(f"authscale-service: {exc}", file=sys.stderr)
        return 2
    if args.command == "keygen":
        try:
            write_private_key(args.path)
        except OSError as exc:
            print(f"authscale-service: cannot write {args.path}: {exc.strerror}", file=sys.stderr)
            return 1
        print(args.path)
        return 0
    assert config is not None
    setup_logging(log_format=config.log_format, instance=config.name)
    if config.ephemeral_key:
        SERVICE.warning(
            "--dev: generated an ephemeral Ed25519 signing key; tokens from this instance "
            "will not verify on any other instance (give all instances the same "
            "AUTH_JWT_PRIVATE_KEY_FILE)"
        )
    from service.app import serve  # Sanic is imported only when serving.

    try:
        serve(config)
    except ServiceError as exc:
        print(f"authscale-service: cannot start: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
