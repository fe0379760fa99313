"""Command line: ``python -m loadgen --target URL --vus 200 --duration 10s [...]``.

Prints live progress (unless ``--quiet``), then the k6-like summary on stdout (unless
``--no-summary``), writes ``--out`` JSON, and exits with 99 when a threshold failed, 105
when a signal stopped the run early (the summary is still printed), 2 for invalid options,
1 when the run could not be carried out, else 0.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from authscale.argparsing import USAGE_EXIT_CODE
from loadgen.config import config_from_args
from loadgen.errors import ConfigError, RunError
from loadgen.progress import Progress
from loadgen.result import write_json
from loadgen.runner import run_sync
from loadgen.summary import render_summary

RUN_ERROR_EXIT_CODE = 1


def main(argv: Sequence[str] | None = None, prog: str = "python -m loadgen") -> int:
    """Entry point of ``python -m loadgen`` and of ``authscale loadgen``."""
    try:
        config = config_from_args(argv, prog=prog)
    except ConfigError as exc:
        print(f"{prog}: error: {exc} (see --help)", file=sys.stderr)
        return USAGE_EXIT_CODE
    progress = Progress(config.run_s, enabled=not config.quiet)
    try:
        result = run_sync(config, progress.update, handle_signals=True)
    except RunError as exc:
        progress.finish()
        print(f"error: {exc}", file=sys.stderr)
        return RUN_ERROR_EXIT_CODE
    except KeyboardInterrupt:
        progress.finish()
        print("interrupted", file=sys.stderr)
        return 130
    progress.finish()
    if config.summary:
        sys.stdout.write(render_summary(result.summary_data()))
        sys.stdout.flush()
    if config.out:
        write_json(result, config.out)
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    return result.exit_code


if __name__ == "__main__":
    sys.exit(main())
