"""k6 threshold expressions: parsing, validation against what we measure, evaluation.

Syntax (one expression per ``--threshold``)::

    METRIC[{step:STEP}]:AGGREGATION OPERATOR VALUE
    http_req_duration:p(95)<500          Trend, milliseconds
    http_req_duration{step:login}:avg<300
    http_req_failed:rate<0.01            Rate, a fraction
    http_reqs:count>1000                 Counter: count or rate (per second)
    vus:value>=200                       Gauge: value
    server_timing_hash_wait{step:login}:p(95)<100
                                         Trend of a phase the service or the balancer
                                         reports in Server-Timing, or of the remainder
                                         (fails when the target reported none)

Unlike k6 (whose misspelt threshold names used to be ignored silently, k6 #1526), an unknown
metric, Server-Timing phase, tag or aggregation is a :class:`~loadgen.errors.ThresholdError`
before the run. The phases are the known ones (:data:`loadgen.servertiming.ORDER` and the
remainder): a target that reports other names still gets their trends in the output, but a
threshold cannot tell a misspelling from a phase the target has not reported yet.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from loadgen.errors import ThresholdError
from loadgen.metrics import (
    COUNTER,
    GAUGE,
    METRICS,
    RATE,
    SERVER_TIMING_PREFIX,
    STEP_METRICS,
    TREND,
    metric_kind,
)
from loadgen.servertiming import ORDER, REMAINDER
from loadgen.stats import STEPS

_OPERATORS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "===": operator.eq,
    "!=": operator.ne,
}
_AGGREGATIONS = {
    TREND: ("avg", "min", "max", "med", "p(N)"),
    COUNTER: ("count", "rate"),
    RATE: ("rate",),
    GAUGE: ("value",),
}
_EXPRESSION = re.compile(
    r"^\s*(?P<agg>[a-z][a-z0-9]*(?:\(\s*[0-9.]+\s*\))?)\s*(?P<op>===|==|!=|<=|>=|<|>)\s*"
    r"(?P<value>[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)\s*$"
)
_PHASES = (*ORDER, REMAINDER)
_NAME = re.compile(r"^(?P<metric>[a-z][a-z0-9_]*)(?:\{(?P<tag>[^}]*)\})?$")


@dataclass(frozen=True, slots=True)
class Threshold:
    """One parsed threshold; ``key`` is the (sub-)metric it applies to."""

    source: str
    metric: str
    step: str | None
    aggregation: str
    op: str
    value: float

    @property
    def key(self) -> str:
        return self.metric if self.step is None else f"{self.metric}{{step:{self.step}}}"

    @property
    def expression(self) -> str:
        """The k6 key of this threshold inside ``metrics[key]["thresholds"]``."""
        return f"{self.aggregation}{self.op}{_format_number(self.value)}"

    @property
    def percentile(self) -> float | None:
        if self.aggregation.startswith("p("):
            return float(self.aggregation[2:-1])
        return None

    def evaluate(self, values: Mapping[str, float]) -> tuple[bool, float]:
        """(passed, observed) against a metric's summary ``values``."""
        observed = float(values.get(self.aggregation, 0.0))
        return _OPERATORS[self.op](observed, self.value), observed


def _format_number(value: float) -> str:
    return str(int(value)) if value == int(value) else repr(value)


def parse_threshold(source: str) -> Threshold:
    """Parse and validate ``'http_req_duration{step:login}:p(95)<500'``."""
    close = source.find("}")
    if close >= 0:
        name, sep, expression = (
            source[: close + 1],
            source[close + 1 : close + 2],
            source[close + 2 :],
        )
    else:
        name, sep, expression = source.partition(":")
    if sep != ":":
        raise ThresholdError(
            f"threshold {source!r}: expected METRIC:EXPRESSION, e.g. 'http_req_duration:p(95)<500'"
        )
    name_match = _NAME.match(name.strip())
    if not name_match:
        raise ThresholdError(f"threshold {source!r}: malformed metric name {name!r}")
    metric = name_match.group("metric")
    found = metric_kind(metric)
    if found is None:
        known = ", ".join([*sorted(METRICS), f"{SERVER_TIMING_PREFIX}<phase>"])
        raise ThresholdError(f"threshold {source!r}: unknown metric {metric!r} (known: {known})")
    if metric.startswith(SERVER_TIMING_PREFIX):
        phase = metric[len(SERVER_TIMING_PREFIX) :]
        if phase not in _PHASES:
            known = ", ".join(_PHASES)
            raise ThresholdError(
                f"threshold {source!r}: unknown Server-Timing phase {phase!r} in {metric!r} "
                f"(known: {known})"
            )
    step = _parse_tag(source, metric, name_match.group("tag"))
    match = _EXPRESSION.match(expression)
    if not match:
        raise ThresholdError(
            f"threshold {source!r}: expected AGGREGATION OPERATOR NUMBER, e.g. 'p(95)<500'"
        )
    aggregation = re.sub(r"\s+", "", match.group("agg"))
    kind = found[0]
    if not _aggregation_allowed(kind, aggregation):
        allowed = ", ".join(_AGGREGATIONS[kind])
        raise ThresholdError(
            f"threshold {source!r}: {metric} is a {kind}; aggregation {aggregation!r} is not "
            f"one of {allowed}"
        )
    if aggregation.startswith("p("):
        aggregation = f"p({_format_number(float(aggregation[2:-1]))})"
    return Threshold(
        source=source,
        metric=metric,
        step=step,
        aggregation=aggregation,
        op=match.group("op"),
        value=float(match.group("value")),
    )


def _parse_tag(source: str, metric: str, tag: str | None) -> str | None:
    if tag is None:
        return None
    key, sep, value = (part.strip() for part in tag.partition(":"))
    if not sep or key != "step":
        raise ThresholdError(f"threshold {source!r}: only the tag 'step' is supported, got {tag!r}")
    if value not in STEPS:
        raise ThresholdError(
            f"threshold {source!r}: unknown step {value!r} (steps: {', '.join(STEPS)})"
        )
    if metric not in STEP_METRICS and not metric.startswith(SERVER_TIMING_PREFIX):
        raise ThresholdError(f"threshold {source!r}: {metric} has no per-step sub-metrics")
    return value


def _aggregation_allowed(kind: str, aggregation: str) -> bool:
    if kind == TREND and aggregation.startswith("p("):
        try:
            percentile = float(aggregation[2:-1])
        except ValueError:
            return False
        return 0 <= percentile <= 100
    return aggregation in _AGGREGATIONS[kind]
