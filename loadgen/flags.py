"""The load generator's command line: the options of a run (:class:`~loadgen.config.LoadConfig`)
as flags, values still as written. :func:`loadgen.config.config_from_args` parses with it,
fills the gaps from the environment and builds the configuration.
"""

from __future__ import annotations

import argparse

from authscale.argparsing import ArgumentParser
from loadgen.schedule import DROP, QUEUE


def build_parser(prog: str = "python -m loadgen") -> argparse.ArgumentParser:
    parser = ArgumentParser(
        prog=prog,
        description=(
            "Run the auth scenario (signup -> login -> refresh -> logout, a fresh user per "
            "iteration) against an authscale service and report k6-named metrics."
        ),
        epilog=(
            "Executors: constant-vus (default, closed model); ramping-vus with --stage; "
            "constant-arrival-rate with --rate (open model, latency also measured from each "
            "request's intended start). Environment: LOADGEN_TARGET, LOADGEN_VUS, "
            "LOADGEN_DURATION, LOADGEN_PROCESSES (flags win). Exit codes: 0 ok, 99 a threshold "
            "failed, 105 stopped early by SIGINT/SIGTERM (summary still written), 2 invalid "
            "options, 1 run error."
        ),
    )
    parser.add_argument("--target", help="base URL of the service or balancer [LOADGEN_TARGET]")
    parser.add_argument(
        "--vus",
        "--pre-allocated-vus",
        type=int,
        dest="vus",
        help="VUs; with --stage the starting VUs, with --rate the pre-allocated VUs [1]",
    )
    parser.add_argument(
        "--duration", help="measured window (after --warmup), e.g. 10s, 1m30s [10s]"
    )
    parser.add_argument(
        "--warmup",
        default="0s",
        help="load before the measured window opens; what ends during it is only in the time "
        "series [0s] (with --stage: the first part of the stages)",
    )
    parser.add_argument(
        "--stage",
        action="append",
        default=[],
        metavar="DURATION:TARGET",
        help="ramp to TARGET VUs over DURATION (repeatable; selects ramping-vus)",
    )
    parser.add_argument("--rate", help="iterations started per time unit, e.g. 50/s (open model)")
    parser.add_argument("--max-vus", type=int, help="with --rate: VUs allowed at most [--vus]")
    parser.add_argument(
        "--when-busy",
        choices=(DROP, QUEUE),
        default=DROP,
        help="with --rate, an arrival finding no free VU is dropped and counted in "
        "dropped_iterations (k6), or queued until a VU frees up (the wait shows in the "
        "corrected latency) [drop]",
    )
    parser.add_argument(
        "--graceful-stop", default="30s", help="time in-flight iterations may finish [30s]"
    )
    parser.add_argument("--think-time", default="0s", help="pause between steps [0s]")
    parser.add_argument("--timeout", default="60s", help="per-request timeout [60s]")
    parser.add_argument(
        "--threshold",
        action="append",
        default=[],
        metavar="EXPR",
        help="k6 threshold, e.g. 'http_req_duration:p(95)<500' or "
        "'http_req_failed{step:login}:rate<0.01' (repeatable; exit 99 when one fails)",
    )
    parser.add_argument("--out", metavar="FILE", help="write the summary data as JSON")
    parser.add_argument("--quiet", action="store_true", help="no live progress output")
    parser.add_argument("--no-summary", action="store_true", help="no end-of-test summary")
    parser.add_argument(
        "--processes",
        type=int,
        help="generator processes sharing the VUs or the rate; histograms merge exactly "
        "[1, LOADGEN_PROCESSES]",
    )
    parser.add_argument(
        "--email-domain", default="example.com", help="domain of the users' emails [example.com]"
    )
    parser.add_argument("--run-id", help="prefix making the users unique [time + random]")
    return parser
