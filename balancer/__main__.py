"""``python -m balancer`` / ``authscale-balancer``: run the reverse proxy."""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence

import uvloop

from balancer.config import load_config
from balancer.errors import ConfigError
from balancer.logs import configure_logging
from balancer.server import run


def main(argv: Sequence[str] | None = None) -> int:
    try:
        config = load_config(argv)
    except ConfigError as exc:
        print(f"balancer: {exc}", file=sys.stderr)
        return 2
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
