"""authscale's load generator: the auth scenario in k6's vocabulary, with honest latency.

Python API (the command line is ``python -m loadgen --help``)::

    from loadgen import LoadConfig, run_load
    result = await run_load(LoadConfig(target="http://127.0.0.1:8000", vus=200, duration_s=10))
    result.summary_data()   # the --out JSON document as a dict (see loadgen.output)
    result.to_json()
    result.exit_code        # 99 when a threshold failed

Modules: ``config`` (options), ``scenario`` (the auth flow and its checks), ``client``
(the aiohttp session), ``executors`` (when iterations start), ``histogram``, ``stats`` and
``series`` (measurements), ``thresholds``, ``monitor`` (the generator's own CPU and loop
lag), ``interrupt`` (stopping early on a signal), ``runner`` (one or N processes),
``result``, ``output`` (JSON), ``summary`` (terminal text), ``progress`` (live line),
``bench`` (the generator's own cost).
"""

from loadgen.config import LoadConfig, config_from_args
from loadgen.result import RunResult
from loadgen.runner import run_load, run_sync

__all__ = ["LoadConfig", "RunResult", "config_from_args", "run_load", "run_sync"]
