"""``python -m authscale``: the same as the ``authscale`` command."""

from __future__ import annotations

import sys

from authscale.cli import main

if __name__ == "__main__":
    sys.exit(main())
