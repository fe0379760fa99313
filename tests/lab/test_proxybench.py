"""The proxy benchmark's pure parts: wrk output parsing, medians and the table."""

from __future__ import annotations

import shutil

import pytest

from lab.experiments import proxybench
from lab.experiments.proxybench import (
    ProxyRun,
    parse_duration_ms,
    parse_wrk,
    render_markdown,
    summarize,
)

WRK_OUTPUT = """Running 10s test @ http://127.0.0.1:18000/
  1 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     2.79ms  512.00us  32.86ms   80.19%
    Req/Sec    21.9k     1.2k   23.0k    88.00%
  Latency Distribution
     50%    2.79ms
     75%    3.01ms
     90%    3.50ms
     99%    6.21ms
  218090 requests in 10.00s, 29.74MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 4
Requests/sec:  21809.00
Transfer/sec:      2.97MB
"""


@pytest.mark.parametrize(
    ("text", "ms"),
    [("812.00us", 0.812), ("2.79ms", 2.79), ("1.02s", 1020.0), ("1.50m", 90_000.0)],
)
def test_parse_duration(text: str, ms: float) -> None:
    assert parse_duration_ms(text) == pytest.approx(ms)


def test_parse_wrk() -> None:
    result = parse_wrk(WRK_OUTPUT)
    assert result.requests == 218090
    assert result.seconds == pytest.approx(10.0)
    assert result.rps == pytest.approx(21809.0)
    assert result.p50_ms == pytest.approx(2.79)
    assert result.p99_ms == pytest.approx(6.21)
    assert result.errors == 7


def test_parse_wrk_refuses_garbage() -> None:
    with pytest.raises(ValueError, match="unexpected wrk output"):
        parse_wrk("wrk: connection refused")


def run(target: str, rps: float, p50: float, cpu: float | None, repeat: int = 1) -> ProxyRun:
    return ProxyRun(target, repeat, rps, int(rps * 10), p50, p50 * 3, 0, cpu, 40.0)


def test_summary_medians_and_added_latency() -> None:
    runs = [
        run("direct", 20000, 2.0, None),
        run("balancer", 19000, 2.5, 30.0),
        run("haproxy", 21000, 2.2, 24.0),
        run("direct", 22000, 3.0, None, 2),
        run("balancer", 18000, 2.7, 34.0, 2),
        run("haproxy", 22000, 2.4, 25.0, 2),
        run("direct", 21000, 2.5, None, 3),
        run("balancer", 18500, 2.9, 32.0, 3),
        run("haproxy", 20000, 2.3, 23.0, 3),
    ]
    summaries = summarize(runs)
    assert [s.target for s in summaries] == ["direct", "balancer", "haproxy"]
    direct, balancer, haproxy = summaries
    assert direct.rps == 21000
    assert direct.proxy_cpu_us is None
    assert balancer.proxy_cpu_us == 32.0
    assert balancer.proxy_cpu_range == (30.0, 34.0)
    assert balancer.added_p50_ms == pytest.approx(0.2)
    assert haproxy.added_p50_ms == pytest.approx(-0.2)
    table = render_markdown(summaries, {"wrk": "-t1 -c64"})
    assert "| balancer | 18,500 (18,000–19,000) |" in table
    assert "1.33×" in table
    assert "wrk=-t1 -c64" in table


def test_missing_wrk_is_refused_with_the_install_hint(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    assert proxybench.main(["--duration", "1"]) == 2
    assert "apt-get install -y wrk" in capsys.readouterr().err
