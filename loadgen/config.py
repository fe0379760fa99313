"""The load generator's configuration: one frozen dataclass, built from argv and environment.

Flags override the environment (``LOADGEN_TARGET``, ``LOADGEN_VUS``, ``LOADGEN_DURATION``,
``LOADGEN_PROCESSES``); ``OTEL_EXPORTER_OTLP_ENDPOINT`` turns tracing on when the ``otel``
extra is installed. This is the only module that reads the environment. Durations are written like
k6's (``10s``, ``1m30s``, ``500ms``, ``2h``; a bare number means seconds) and rates as
``50/s``, ``600/m`` or ``50``.

With ``--warmup W`` the load runs W + duration; metrics, thresholds and the window block
describe only what ended after the warm-up, the time series covers the whole run.

The executor follows from the options, like k6's CLI shortcuts: ``--rate`` selects
``constant-arrival-rate`` (open model), ``--stage`` selects ``ramping-vus``, otherwise
``constant-vus``.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import secrets
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from authscale.argparsing import ArgumentParser
from loadgen.errors import ConfigError
from loadgen.thresholds import Threshold, parse_threshold

CONSTANT_VUS = "constant-vus"
RAMPING_VUS = "ramping-vus"
CONSTANT_ARRIVAL_RATE = "constant-arrival-rate"

DROP, QUEUE = "drop", "queue"

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
_RATE_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: str) -> float:
    """``'1m30s'`` -> 90.0 seconds; a bare number is seconds."""
    text = text.strip()
    try:
        return _non_negative(float(text), text)
    except ValueError:
        pass
    position, seconds = 0, 0.0
    for match in _DURATION_PART.finditer(text):
        if match.start() != position:
            break
        seconds += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        position = match.end()
    if not text or position != len(text):
        raise ConfigError(f"invalid duration {text!r} (examples: 10s, 1m30s, 500ms)")
    return seconds


def _non_negative(value: float, text: str) -> float:
    if value < 0 or not math.isfinite(value):
        raise ConfigError(f"invalid duration {text!r}")
    return value


def parse_rate(text: str) -> float:
    """``'50/s'`` -> 50.0 iterations per second; also ``/m``, ``/h``, ``/2s``."""
    number, _, unit = text.strip().partition("/")
    try:
        value = float(number)
        per = 1.0 if not unit else _rate_unit(unit)
    except (ValueError, KeyError):
        raise ConfigError(f"invalid rate {text!r} (examples: 50/s, 600/m)") from None
    if value <= 0 or per <= 0:
        raise ConfigError(f"rate must be positive, got {text!r}")
    return value / per


def _rate_unit(unit: str) -> float:
    if unit in _RATE_UNITS:
        return _RATE_UNITS[unit]
    return parse_duration(unit)


@dataclass(frozen=True, slots=True)
class Stage:
    """Ramp linearly to ``target`` VUs over ``duration_s`` (k6 ``stages``)."""

    duration_s: float
    target: int


def parse_stage(text: str) -> Stage:
    """``'30s:200'`` -> Stage(30.0, 200)."""
    duration, sep, target = text.partition(":")
    if not sep or not target.strip().isdigit():
        raise ConfigError(f"invalid stage {text!r} (expected DURATION:TARGET, e.g. 30s:200)")
    return Stage(parse_duration(duration), int(target))


def new_run_id() -> str:
    """Unique across runs and hosts: seconds since the epoch plus 40 random bits, base 36."""
    return f"{_base36(int(time.time()))}{_base36(secrets.randbits(40))}"


def _base36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        number, rest = divmod(number, 36)
        out = digits[rest] + out
        if not number:
            return out


@dataclass(frozen=True, kw_only=True, slots=True)
class LoadConfig:
    """One run of the auth scenario. Validated on construction."""

    target: str
    vus: int = 1
    duration_s: float = 10.0
    warmup_s: float = 0.0
    stages: tuple[Stage, ...] = ()
    rate: float | None = None
    max_vus: int | None = None
    when_busy: str = DROP
    graceful_stop_s: float = 30.0
    think_time_s: float = 0.0
    request_timeout_s: float = 60.0
    thresholds: tuple[Threshold, ...] = ()
    out: str | None = None
    quiet: bool = False
    summary: bool = True
    processes: int = 1
    email_domain: str = "example.com"
    run_id: str = field(default_factory=new_run_id)
    process_index: int = 0
    vu_id_offset: int = 0
    phase_s: float = 0.0
    #: OTLP/HTTP base URL spans go to (``OTEL_EXPORTER_OTLP_ENDPOINT``); None = no tracing.
    otlp_endpoint: str | None = None

    def __post_init__(self) -> None:
        for broken, message in self._rules():
            if broken:
                raise ConfigError(message)

    def _rules(self) -> list[tuple[bool, str]]:
        """Every rule as (broken, message), in the order a broken one is reported."""
        http = ("http://", "https://")
        otlp = self.otlp_endpoint
        return [
            (
                not self.target.startswith(http),
                f"--target must be an http(s) URL, got {self.target!r}",
            ),
            (
                otlp is not None and not otlp.startswith(http),
                f"OTEL_EXPORTER_OTLP_ENDPOINT must be an http(s) URL, got {otlp!r}",
            ),
            (
                self.vus < 0 or (self.rate is None and not self.stages and self.vus == 0),
                "--vus must be at least 1",
            ),
            (
                self.vus_allocated < 1,
                "the run needs at least 1 VU (--vus, --max-vus or --stage)",
            ),
            (self.duration_s <= 0 and not self.stages, "--duration must be positive"),
            (
                self.warmup_s < 0 or bool(self.stages and self.warmup_s >= self.run_s),
                "--warmup must be shorter than the stages",
            ),
            (
                self.rate is not None and bool(self.stages),
                "--rate (open model) and --stage (ramping VUs) exclude each other",
            ),
            (
                self.max_vus is not None and self.max_vus < self.vus,
                "--max-vus must be at least --vus",
            ),
            (self.when_busy not in (DROP, QUEUE), "--when-busy must be 'drop' or 'queue'"),
            (self.processes < 1, "--processes must be at least 1"),
            (
                self.processes > self.vus_allocated,
                "--processes must not exceed the number of VUs",
            ),
            (self.request_timeout_s <= 0, "--timeout must be positive"),
            (
                not re.fullmatch(r"[a-z0-9]+", self.run_id),
                "--run-id must be lowercase letters and digits",
            ),
            *(
                (
                    self.rate is None,
                    f"threshold {threshold.source!r}: {threshold.metric} is only measured "
                    "in the open model (--rate)",
                )
                for threshold in self.thresholds
                if threshold.metric in _OPEN_ONLY
            ),
        ]

    @property
    def executor(self) -> str:
        if self.rate is not None:
            return CONSTANT_ARRIVAL_RATE
        if self.stages:
            return RAMPING_VUS
        return CONSTANT_VUS

    @property
    def open_model(self) -> bool:
        return self.rate is not None

    @property
    def run_s(self) -> float:
        """How long iterations are started: warm-up plus window (or the stages)."""
        if self.stages:
            return sum(stage.duration_s for stage in self.stages)
        return self.warmup_s + self.duration_s

    @property
    def window_s(self) -> float:
        """The measurement window's length: after the warm-up, before the graceful stop."""
        return self.run_s - self.warmup_s

    @property
    def vus_allocated(self) -> int:
        """VUs this run may use at most (k6 ``vus_max``)."""
        if self.stages:
            return max([self.vus, *(stage.target for stage in self.stages)])
        if self.open_model:
            return self.max_vus if self.max_vus is not None else self.vus
        return self.vus

    def share(self, index: int, count: int) -> LoadConfig:
        """The part of this run that process ``index`` of ``count`` executes."""

        def part(total: int) -> int:
            return part_of(total, index, count)

        return replace(
            self,
            vus=part(self.vus),
            max_vus=None if self.max_vus is None else part(self.max_vus),
            stages=tuple(Stage(s.duration_s, part(s.target)) for s in self.stages),
            rate=None if self.rate is None else self.rate / count,
            phase_s=0.0 if self.rate is None else index / self.rate,
            processes=1,
            process_index=index,
            vu_id_offset=sum(part_of(self.vus_allocated, i, count) for i in range(index)),
        )

    def to_dict(self) -> dict[str, object]:
        return {
            "target": self.target,
            "executor": self.executor,
            "vus": self.vus,
            "max_vus": self.vus_allocated,
            "duration_s": self.window_s,
            "warmup_s": self.warmup_s,
            "stages": [{"duration_s": s.duration_s, "target": s.target} for s in self.stages],
            "rate_per_s": self.rate,
            "when_busy": self.when_busy if self.open_model else None,
            "graceful_stop_s": self.graceful_stop_s,
            "think_time_s": self.think_time_s,
            "request_timeout_s": self.request_timeout_s,
            "thresholds": [t.source for t in self.thresholds],
            "processes": self.processes,
            "run_id": self.run_id,
            "email_domain": self.email_domain,
        }


def part_of(total: int, index: int, count: int) -> int:
    return total // count + (1 if index < total % count else 0)


_OPEN_ONLY = frozenset({"http_req_duration_corrected", "iteration_duration_corrected"})


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


def config_from_args(
    argv: Sequence[str] | None = None,
    environ: Mapping[str, str] | None = None,
    *,
    prog: str = "python -m loadgen",
) -> LoadConfig:
    """Parse argv (default ``sys.argv[1:]``) over ``environ`` (default ``os.environ``)."""
    env = os.environ if environ is None else environ
    args = build_parser(prog).parse_args(argv)
    target = args.target or env.get("LOADGEN_TARGET")
    if not target:
        raise ConfigError("--target is required (or set LOADGEN_TARGET)")
    vus = args.vus if args.vus is not None else _env_int(env, "LOADGEN_VUS", 1)
    processes = (
        args.processes if args.processes is not None else _env_int(env, "LOADGEN_PROCESSES", 1)
    )
    duration = args.duration or env.get("LOADGEN_DURATION") or "10s"
    config = LoadConfig(
        target=target.rstrip("/"),
        vus=vus,
        duration_s=parse_duration(duration),
        warmup_s=parse_duration(args.warmup),
        stages=tuple(parse_stage(s) for s in args.stage),
        rate=None if args.rate is None else parse_rate(args.rate),
        max_vus=args.max_vus,
        when_busy=args.when_busy,
        graceful_stop_s=parse_duration(args.graceful_stop),
        think_time_s=parse_duration(args.think_time),
        request_timeout_s=parse_duration(args.timeout),
        thresholds=tuple(parse_threshold(t) for t in args.threshold),
        out=args.out,
        quiet=args.quiet,
        summary=not args.no_summary,
        processes=processes,
        email_domain=args.email_domain,
        otlp_endpoint=env.get("OTEL_EXPORTER_OTLP_ENDPOINT") or None,
    )
    return replace(config, run_id=args.run_id) if args.run_id else config


def _env_int(env: Mapping[str, str], key: str, default: int) -> int:
    raw = env.get(key)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"{key} must be an integer, got {raw!r}") from None
