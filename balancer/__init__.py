"""authscale's balancer: an asyncio HTTP/1.1 reverse proxy (uvloop + httptools).

Its rooms, from the wire inwards (no two modules import each other, even for types):

- ``http11``: sans-io request/response parsing (httptools, strict); trailers dropped.
- ``rewrite``: pure header rewriting (hop-by-hop, X-Forwarded-*, X-Request-ID), response
  framing and persistence (RFC 9112 §9.3), Server-Timing entries, JSON error responses.
- ``exchange``: the rules of one exchange as a sans-io state machine (phases, events in,
  actions out) and the retry budget; ``timeouts``: the timeout rules, pure.
- ``dispatch`` / ``forward``: the exchange's executor: getting the request onto a backend
  connection, then relaying the response and answering failures.
- ``proxy``: the client connection (asyncio Protocol): parsing, pipelining, flow control,
  per-address cap, sweeping timeouts; ``context``: what connections share.
- ``upstream``: a backend connection (asyncio Protocol) and the pool's per-backend state;
  ``pool``: slots (``maxconn``), the bounded queue, idle keep-alive connections.
- ``backends`` / ``selection``: the registry and the selection algorithms;
  ``health``: the pure UP/DOWN state; ``checks``: active health checks.
- ``admin`` / ``metrics`` / ``status.html``: admin API (Host allow-list, token), status
  page and Prometheus metrics; ``discovery``: DNS-based backend discovery.
- ``tracing``: optional OpenTelemetry spans; ``logs``: text/JSON logging, access log.
- ``config`` / ``flags`` / ``server`` / ``__main__``: configuration, its command-line flags,
  lifecycle and the program;
  ``errors``: the exception tree.

The modules a request runs through are compiled with mypyc when the package is built where
a C compiler is present (``setup.py``); ``_build`` decides at import which build runs, and
``BUILD`` says which did.
"""

from balancer import _build

BUILD = _build.select()

from balancer.config import BalancerConfig, load_config  # noqa: E402
from balancer.errors import BalancerError  # noqa: E402
from balancer.server import Balancer, run  # noqa: E402

__all__ = ["BUILD", "Balancer", "BalancerConfig", "BalancerError", "load_config", "run"]
