"""The argument parser of every authscale command line.

An invalid option ends the program with exit status 2 and one line on stderr naming the
command and the problem (``authscale lab bench: error: argument --vus: invalid int value:
'x' (see --help)``), instead of argparse's usage block. 2 is what argparse, getopt-style
tools and most Unix programs use for a usage error; k6 uses 104, but a Python user's
scripts already expect 2.
"""

from __future__ import annotations

import argparse
import sys
from typing import NoReturn

USAGE_EXIT_CODE = 2


class ArgumentParser(argparse.ArgumentParser):
    """argparse's parser with a one-line usage error."""

    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"{self.prog}: error: {message} (see --help)\n")
        sys.exit(USAGE_EXIT_CODE)
