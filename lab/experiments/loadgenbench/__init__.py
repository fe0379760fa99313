"""How much does the generator cost, and how fast can one process go?

``python -m lab bench-loadgen`` (also ``python -m lab.experiments.loadgenbench``) measures,
against a trivial endpoint that answers the auth scenario with static responses (nginx
``return`` when nginx is installed, else a minimal asyncio server in a separate process):

1. CPU µs per request of the generator (``run_load``, 64 VUs, closed model) beside a bare
   aiohttp loop that sends the same four requests with the same bodies and reads the
   responses, with no checks and no statistics. Each runs in its own fresh process,
   measured the same way (``getrusage`` of that process around the load only), repeated
   and interleaved; the table shows medians and our overhead over the bare loop.
2. The largest request rate one generator process sustains: the open-model rate is stepped
   up until the event-loop lag p99 exceeds 10 ms, iterations are dropped, or the achieved
   rate falls short of the target.

Figures on a shared or busy machine are only indicative.

Rooms: `static` is the trivial endpoint, `workers` the two measured loops (each in a fresh
process), `command` the command line and the tables.
"""

from lab.experiments.loadgenbench.command import cost_table, main, rate_table
from lab.experiments.loadgenbench.static import trivial_server

__all__ = ["cost_table", "main", "rate_table", "trivial_server"]
