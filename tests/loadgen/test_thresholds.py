import pytest

from loadgen.errors import ThresholdError
from loadgen.thresholds import parse_threshold


@pytest.mark.parametrize(
    ("source", "key", "aggregation", "op", "value"),
    [
        ("http_req_duration:p(95)<500", "http_req_duration", "p(95)", "<", 500.0),
        ("http_req_duration: p(99.9) <= 1500", "http_req_duration", "p(99.9)", "<=", 1500.0),
        (
            "http_req_duration{step:login}:avg<300",
            "http_req_duration{step:login}",
            "avg",
            "<",
            300.0,
        ),
        ("http_req_failed:rate<0.01", "http_req_failed", "rate", "<", 0.01),
        ("http_reqs:count>=1000", "http_reqs", "count", ">=", 1000.0),
        ("vus:value==200", "vus", "value", "==", 200.0),
        ("checks:rate>0.99", "checks", "rate", ">", 0.99),
        (
            "server_timing_hash_wait{step:login}:p(95)<100",
            "server_timing_hash_wait{step:login}",
            "p(95)",
            "<",
            100.0,
        ),
        ("server_timing_lb_ttfb:avg<1", "server_timing_lb_ttfb", "avg", "<", 1.0),
        ("server_timing_remainder:max<1", "server_timing_remainder", "max", "<", 1.0),
    ],
)
def test_parses_k6_syntax(source: str, key: str, aggregation: str, op: str, value: float) -> None:
    threshold = parse_threshold(source)
    assert (threshold.key, threshold.aggregation, threshold.op, threshold.value) == (
        key,
        aggregation,
        op,
        value,
    )


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("http_req_duraton:p(95)<500", "unknown metric 'http_req_duraton'"),
        ("http_req_duration:p95<500", "aggregation 'p95' is not one of"),
        ("http_req_duration:rate<500", "aggregation 'rate' is not one of"),
        ("http_req_failed:avg<0.1", "aggregation 'avg'"),
        ("http_req_duration:p(101)<5", "is not one of"),
        ("http_req_duration{step:delete}:avg<5", "unknown step 'delete'"),
        ("http_req_duration{status:200}:avg<5", "only the tag 'step'"),
        ("iterations{step:login}:count>1", "no per-step sub-metrics"),
        ("http_req_duration", "expected METRIC:EXPRESSION"),
        ("http_req_duration:p(95)<fast", "expected AGGREGATION OPERATOR NUMBER"),
        ("server_timing_:avg<5", "unknown metric 'server_timing_'"),
        ("server_timing_app:rate<5", "server_timing_app is a trend"),
        ("server_timing_app{step:delete}:avg<5", "unknown step 'delete'"),
        ("server_timing_hash-wait:avg<5", "malformed metric name"),
        (
            "server_timing_hash_wiat{step:login}:p(95)<100",
            "unknown Server-Timing phase 'hash_wiat'",
        ),
        ("server_timing_lb_ttfb2:avg<1", "unknown Server-Timing phase 'lb_ttfb2'"),
    ],
)
def test_rejects_what_we_do_not_measure_with_a_clear_message(source: str, message: str) -> None:
    with pytest.raises(ThresholdError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_threshold(source)


def test_evaluation_compares_the_named_aggregation() -> None:
    threshold = parse_threshold("http_req_duration:p(95)<500")
    assert threshold.evaluate({"p(95)": 499.9, "avg": 900}) == (True, 499.9)
    assert threshold.evaluate({"p(95)": 500.0}) == (False, 500.0)
    assert parse_threshold("http_req_failed:rate!=0").evaluate({"rate": 0.0})[0] is False


def test_expression_is_the_k6_key() -> None:
    assert parse_threshold("http_req_duration : p(95.0) < 500").expression == "p(95)<500"
    assert parse_threshold("http_req_failed:rate<0.01").expression == "rate<0.01"
