"""``python -m balancer`` / ``authscale-balancer``: run the reverse proxy."""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence

import uvloop

from authscale.argparsing import USAGE_EXIT_CODE
from balancer.config import load_config
from balancer.errors import ConfigError
from balancer.logs import configure_logging
from balancer.server import run


def main(argv: Sequence[str] | None = None, prog: str = "python -m balancer") -> int:
    """Entry point of ``python -m balancer`` and of ``authscale balancer``."""
    try:
        config = load_config(argv, prog=prog)
    except ConfigError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return USAGE_EXIT_CODE
    configure_logging(config.log_format, config.log_level)
    try:
        uvloop.run(run(config))
    except OSError as exc:
        logging.getLogger("balancer").error("cannot start: %s", exc)
        return 1
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
