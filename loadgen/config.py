"""The load generator's configuration: one frozen dataclass, built from argv and environment.

Flags override the environment (``LOADGEN_TARGET``, ``LOADGEN_VUS``, ``LOADGEN_DURATION``,
``LOADGEN_PROCESSES``); ``OTEL_EXPORTER_OTLP_ENDPOINT`` turns tracing on when the ``otel``
extra is installed. This is the only module that reads the environment. The flags are
:mod:`loadgen.flags`; durations, rates and stages are written k6's way (:mod:`loadgen.schedule`).

With ``--warmup W`` the load runs W + duration; metrics, thresholds and the window block
describe only what ended after the warm-up, the time series covers the whole run.

The executor follows from the options, like k6's CLI shortcuts: ``--rate`` selects
``constant-arrival-rate`` (open model), ``--stage`` selects ``ramping-vus``, otherwise
``constant-vus``.
"""

from __future__ import annotations

import os
import re
import secrets
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from authscale import otel
from loadgen.errors import ConfigError
from loadgen.flags import build_parser
from loadgen.schedule import DROP, QUEUE, Stage, parse_duration, parse_rate, parse_stage
from loadgen.thresholds import Threshold, parse_threshold

CONSTANT_VUS = "constant-vus"
RAMPING_VUS = "ramping-vus"
CONSTANT_ARRIVAL_RATE = "constant-arrival-rate"


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
        otlp_problem = otel.endpoint_problem(self.otlp_endpoint)
        return [
            (
                not self.target.startswith(http),
                f"--target must be an http(s) URL, got {self.target!r}",
            ),
            (otlp_problem is not None, otlp_problem or ""),
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
