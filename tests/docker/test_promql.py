"""The metric-name extractor that the dashboard and alert checks rely on."""

from __future__ import annotations

import pytest

from tests.docker.promql import (
    alert_expressions,
    dashboard_expressions,
    exposed_names,
    metric_names,
)


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("up", {"up"}),
        ('up{job="service"} == 0', {"up"}),
        ("sum(rate(http_requests_total[5m]))", {"http_requests_total"}),
        (
            'sum by (route) (rate(http_requests_total{status=~"5.."}[$__rate_interval]))'
            " / sum by (route) (rate(http_requests_total[$__rate_interval]))",
            {"http_requests_total"},
        ),
        (
            "histogram_quantile(0.95, sum by (le, route) (rate(req_seconds_bucket[5m])))",
            {"req_seconds_bucket"},
        ),
        ("sum(rate(a_total[1m])) without (instance) > 1e3", {"a_total"}),
        ("a_total / on (instance) group_left (version) b_info", {"a_total", "b_info"}),
        ("rate(a_total[5m] offset 1h) > bool 0 and b unless c", {"a_total", "b", "c"}),
        ('label_replace(up, "dst", "$1", "src", "(by|on)")', {"up"}),
        ("max_over_time(gauge_x[10m:1m])", {"gauge_x"}),
        ("sum(x{route='/auth/login', method=\"POST\"}) by (instance)", {"x"}),
        ("clamp_min(a, 1) * 100 - .5", {"a"}),
        ("vector(0)", set()),
        ("time() - process_start_time_seconds > 60", {"process_start_time_seconds"}),
        ("sum(rate(ns:metric_name:rate5m[1m]))", {"ns:metric_name:rate5m"}),
    ],
)
def test_metric_names(expr: str, expected: set[str]) -> None:
    assert metric_names(expr) == expected


def test_dashboard_expressions_cover_nested_rows_and_variables() -> None:
    dashboard = {
        "panels": [
            {"title": "top", "targets": [{"expr": "a"}, {"expr": ""}]},
            {
                "type": "row",
                "title": "row",
                "panels": [{"title": "nested", "targets": [{"expr": "b"}]}],
            },
        ],
        "templating": {
            "list": [
                {"name": "instance", "type": "query", "query": "label_values(c_total, instance)"},
                {"name": "interval", "type": "interval", "query": "1m,5m"},
            ]
        },
    }
    assert list(dashboard_expressions(dashboard)) == [
        ("top", "a"),
        ("nested", "b"),
        ("$instance", "c_total"),
    ]


def test_alert_expressions() -> None:
    rules = {
        "groups": [
            {
                "name": "g",
                "rules": [{"alert": "Down", "expr": "up == 0"}, {"record": "r", "expr": 1}],
            }
        ]
    }
    assert list(alert_expressions(rules)) == [("Down", "up == 0"), ("r", "1")]


EXPOSITION = """\
# HELP app_requests_total Requests.
# TYPE app_requests_total counter
app_requests_total{route="/a"} 3.0
app_requests_created{route="/a"} 1.7e9
# HELP app_latency_seconds Latency.
# TYPE app_latency_seconds histogram
# HELP app_in_flight In flight.
# TYPE app_in_flight gauge
app_in_flight 0.0
"""


def test_exposed_names_include_type_suffixes_before_any_sample() -> None:
    names = exposed_names(EXPOSITION)
    assert {"app_requests_total", "app_requests", "app_in_flight"} <= names
    # No histogram sample yet: its series names still count as exposed.
    assert {"app_latency_seconds_bucket", "app_latency_seconds_sum"} <= names
    assert "app_latency_seconds_total" not in names
    assert "app_in_flight_total" not in names
