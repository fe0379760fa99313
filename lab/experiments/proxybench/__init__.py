"""``python -m lab bench-proxy``: what our balancer costs compared with nginx and HAProxy.

One minimal Sanic backend (``return json({"ok": True})``, one process, access log off) is
driven by wrk (``-t1 -c64`` by default) directly, through authscale's balancer and, when
installed, through nginx and HAProxy configured equivalently (one worker/thread, keep-alive
upstream; the configurations of reference/perf.md). Targets are interleaved within each
repeat and medians reported: req/s, p50/p99 latency, added latency versus direct, and CPU
µs per request of the proxy and of the backend (user + system time of the process and its
children before and after, divided by the requests wrk completed). Everything listens on
127.0.0.1 and every process started is stopped at the end.

Rooms: `peers` starts what is measured, `wrk` runs the load and reads its output, `table`
turns runs into medians, the table and the report files, `command` is the command line.
"""

from lab.experiments.proxybench.command import build_parser, main
from lab.experiments.proxybench.peers import HAPROXY_CFG, NGINX_CONF, SANIC_APP
from lab.experiments.proxybench.table import ProxyRun, Summary, render_markdown, summarize
from lab.experiments.proxybench.wrk import (
    WRK_MISSING,
    WrkResult,
    parse_duration_ms,
    parse_wrk,
    run_wrk,
)

__all__ = [
    "HAPROXY_CFG",
    "NGINX_CONF",
    "SANIC_APP",
    "WRK_MISSING",
    "ProxyRun",
    "Summary",
    "WrkResult",
    "build_parser",
    "main",
    "parse_duration_ms",
    "parse_wrk",
    "render_markdown",
    "run_wrk",
    "summarize",
]
