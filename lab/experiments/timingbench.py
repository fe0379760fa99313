"""``python -m lab bench-service --compare-server-timing``: what Server-Timing costs.

Two measurements of one question, because the budget (≤ 3 % of ``POST /auth/refresh``'s
CPU per request) is smaller than what separates two runs on a busy 2-core machine:

1. **End to end.** ``POST /auth/refresh`` under wrk on a service instance started with
   ``AUTH_SERVER_TIMING=off`` and on one started as usual. Every run gets a *fresh*
   instance (and one unmeasured warm-up run): two long-lived instances differ by more than
   the header does (memory layout, hash seeds, which core they settled on), and that
   difference would be read as the header's cost. Runs alternate off/on, the first of each
   repeat alternating too; the cost is the ratio of the median CPU µs per request.
2. **In process.** The code the setting switches, timed on its own with ``timeit``: a
   request's recorder, the phase additions of a refresh, the header's formatting and
   setting on a Sanic response, the phase histogram — minus what runs when it is off (a
   clock read and the same choke points finding no recorder). Its share of the measured
   CPU per request is the cost without the noise of (1).
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import timeit
from collections.abc import Callable
from contextvars import copy_context
from datetime import UTC, datetime
from pathlib import Path
from time import perf_counter

from lab.experiments import servicerun
from lab.experiments.proxybench import run_wrk
from lab.experiments.timingcost import (
    TIMING_OFF,
    TIMING_ON,
    Sample,
    interleaved,
    render_timing_cost,
)
from lab.harness import config, infra

SETTINGS = {TIMING_OFF: "off", TIMING_ON: "on"}
#: The choke points a refresh passes: the rotation script and the device check (Redis), the
#: access token's signing (JWT).
REFRESH_PHASES = ("redis", "redis", "jwt")


def compare_server_timing(args: argparse.Namespace) -> int:
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    work = Path(tempfile.mkdtemp(prefix="authscale-service-bench-"))
    running = infra.start(config.infra_config())
    samples: list[Sample] = []
    try:
        infra_pids = running.component_pids()
        for repeat, name in interleaved(list(SETTINGS), args.repeats):
            setting = SETTINGS[name]
            run_dir = config.state_root() / "runs" / f"bench-service-{stamp}-{repeat}-{setting}"
            with servicerun.service_topology(
                running, run_dir, (("AUTH_SERVER_TIMING", setting),)
            ) as topology:
                base = topology.entry_url
                # Unmeasured first: pools fill, code paths warm up.
                url, script = servicerun.refresh_run(base, work, args.connections)
                run_wrk(url, min(2.0, args.duration), args.connections, 1, script)
                url, script = servicerun.refresh_run(base, work, args.connections)
                pid = servicerun.instance_pid(topology)
                sample = servicerun.measure(name, url, script, pid, infra_pids, args)
            samples.append(sample)
            servicerun.progress(sample, repeat, args.repeats)
    finally:
        running.stop()
        shutil.rmtree(work, ignore_errors=True)
    direct_us = recorder_cost_us()
    table = render_timing_cost(samples, args, direct_us=direct_us)
    servicerun.write(args.out / f"service-timing-{stamp}", table, samples)
    return 0


def recorder_cost_us(number: int = 20_000, repeat: int = 7) -> float:
    """µs per request that Server-Timing adds, timed in this process (best of ``repeat``)."""
    on, off = _request_paths()
    context = copy_context()

    def best(path: Callable[[], object]) -> float:
        runs = timeit.repeat(lambda: context.run(path), number=number, repeat=repeat)
        return min(runs) / number * 1e6

    return best(on) - best(off)


def _request_paths() -> tuple[Callable[[], bytes], Callable[[], bytes]]:
    """A refresh's timing work with Server-Timing on, and what is left of it when off."""
    from sanic.headers import format_http1_response
    from sanic.response import HTTPResponse

    from service import timing
    from service.metrics import ServiceMetrics

    phases = [timing.PHASE_NAMES.index(name) for name in REFRESH_PHASES]
    histogram = ServiceMetrics().phases
    route = "/auth/refresh"

    def choke_points() -> None:
        for phase in phases:
            timing.add_elapsed(phase, perf_counter())

    def on() -> bytes:
        recorder = timing.begin()
        choke_points()
        response = HTTPResponse(b"{}")
        app_seconds = timing.finish(recorder)
        response.headers[timing.HEADER] = timing.server_timing(recorder, app_seconds)
        histogram.observe(route, recorder, app_seconds)
        return format_http1_response(200, response.processed_headers)

    def off() -> bytes:
        perf_counter()
        choke_points()
        response = HTTPResponse(b"{}")
        return format_http1_response(200, response.processed_headers)

    return on, off
