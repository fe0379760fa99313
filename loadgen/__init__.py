"""authscale's load generator: the auth scenario in k6's vocabulary, with honest latency.

Python API (the command line is ``python -m loadgen --help``)::

    from loadgen import LoadConfig, run_load
    result = await run_load(LoadConfig(target="http://127.0.0.1:8000", vus=200, duration_s=10))
    result.summary_data()   # the --out JSON document as a dict (see loadgen.output)
    result.to_json()
    result.exit_code        # 99 when a threshold failed

Where the time went: when the target answers with a W3C ``Server-Timing`` header (the
service names its phases ``hash-wait``, ``hash``, ``db``, ``redis``, ``jwt``, ``app``; the
balancer appends ``lb-queue``, ``lb-connect``, ``lb-ttfb``), every entry with a duration
goes, per step, into an HDR histogram of its own, reported as the trend
``server_timing_<phase>{step:<step>}`` in ms (``-`` becomes ``_``). Beside them,
``server_timing_remainder{step:<step>}`` is, per response, the client-measured
``http_req_duration`` minus the outermost server time: ``lb-queue + lb-connect + lb-ttfb``
when the balancer's entries are there, else ``app``; that is everything outside the
handlers: the service's HTTP layer around its handler (reading and parsing the request,
writing the response) and the event-loop waits before the handler ran (or, behind the
balancer, the balancer's own HTTP layer and loop waits, the service's being inside
``lb-ttfb``), the network both ways, and the client (aiohttp's parsing, its event loop).
The service's phases nest inside ``app`` and ``app`` inside ``lb-ttfb``, so per response
the outermost time plus the remainder is the client's duration (to the header's rounding;
a negative remainder counts as 0), and so are their averages, not their percentiles. The
summary prints them as WHERE THE TIME WENT; a target without the header adds nothing and
a malformed entry is skipped.

Modules: ``config`` (the run's options, validated), ``flags`` (the command line),
``schedule`` (durations, rates, stages), ``scenario`` (the auth flow and its checks),
``client`` (the aiohttp session), ``executors`` (when iterations start), ``histogram``,
``stats``, ``stepstats``, ``series`` and ``snapshot`` (measurements), ``metrics`` (their k6
names), ``servertiming`` (the Server-Timing parser), ``thresholds``, ``monitor`` (the
generator's own CPU and loop lag), ``interrupt`` (stopping early on a signal), ``runner``
(one or N processes), ``measurements`` (what a run measured), ``output`` (the JSON built
from them), ``result`` (the run's outcome: that JSON and the verdicts), ``summary``
(terminal text), ``progress`` (live line). The generator's own cost is measured by the lab
(``lab.experiments.loadgenbench``).
"""

from loadgen.config import LoadConfig, config_from_args
from loadgen.result import RunResult
from loadgen.runner import run_load, run_sync

__all__ = ["LoadConfig", "RunResult", "config_from_args", "run_load", "run_sync"]
