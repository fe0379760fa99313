"""authscale's balancer: an asyncio HTTP/1.1 reverse proxy (uvloop + httptools).

Modules, from the wire inwards:

- ``http11``: sans-io request/response parsing (httptools, strict).
- ``rewrite``: pure header rewriting (hop-by-hop, X-Forwarded-*, X-Request-ID), error bodies.
- ``proxy`` / ``exchange``: the client Protocol and the per-request state machine.
- ``upstream``: backend connections and the per-backend pool (maxconn slots, bounded queue).
- ``backends`` / ``selection`` / ``health``: registry, selection algorithms, health checks.
- ``admin`` / ``metrics``: admin API, status page and Prometheus metrics.
- ``discovery``: DNS-based backend discovery.
- ``config`` / ``server`` / ``__main__``: configuration, lifecycle and the command line.
"""

from balancer.config import BalancerConfig, load_config
from balancer.errors import BalancerError
from balancer.server import Balancer, run

__all__ = ["Balancer", "BalancerConfig", "BalancerError", "load_config", "run"]
