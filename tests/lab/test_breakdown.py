"""Where the time went: the servers' phases as segments that add up to the client's
duration, read from the load generator's JSON in either of its two shapes (no sockets)."""

from __future__ import annotations

from typing import Any

import pytest

from lab.reporting import breakdown, records
from lab.reporting.codec import encode
from lab.reporting.results import StepTime
from tests.lab.test_records import loadgen_output

#: Login at 200 users behind the balancer, as the issue describes it: almost all waiting.
LOGIN = {
    "hash_wait": 6300.0,
    "hash": 59.0,
    "db": 0.9,
    "redis": 0.4,
    "jwt": 0.1,
    "app": 6362.0,
    "lb_queue": 2.0,
    "lb_connect": 0.0,
    "lb_ttfb": 6363.5,
    "remainder": 30.0,
}


def trend_metrics(step: str, phases: dict[str, float]) -> dict[str, Any]:
    return {
        f"server_timing_{phase}{{step:{step}}}": {
            "type": "trend",
            "values": {
                "avg": avg,
                "min": 0.0,
                "med": avg,
                "max": avg * 2,
                "p(90)": avg,
                "p(95)": avg * 1.5,
            },
        }
        for phase, avg in phases.items()
    }


def test_segments_add_up_to_the_client_duration_behind_the_balancer() -> None:
    phases = {p: {"avg": v, "p(95)": v} for p, v in LOGIN.items()}
    duration = LOGIN["lb_queue"] + LOGIN["lb_connect"] + LOGIN["lb_ttfb"] + LOGIN["remainder"]
    got = breakdown.segments(phases, duration)
    assert list(got) == list(breakdown.SEGMENTS)
    assert sum(got.values()) == pytest.approx(duration)
    assert got["other_app"] == pytest.approx(6362.0 - 6360.4)
    assert got["balancer"] == pytest.approx(2.0 + 1.5)
    assert got["remainder"] == 30.0


def test_without_a_measured_remainder_it_is_what_the_servers_do_not_explain() -> None:
    phases = {p: {"avg": v, "p(95)": v} for p, v in LOGIN.items() if not p.startswith("lb_")}
    del phases["remainder"]
    got = breakdown.segments(phases, 6400.0)
    assert got["balancer"] == 0.0
    assert got["remainder"] == pytest.approx(6400.0 - 6362.0)
    assert sum(got.values()) == pytest.approx(6400.0)


def test_rounding_never_draws_a_negative_segment() -> None:
    phases = {"hash": {"avg": 10.0, "p(95)": 10.0}, "app": {"avg": 9.99, "p(95)": 9.99}}
    got = breakdown.segments(phases, 9.5)
    assert min(got.values()) >= 0.0


def test_trend_metrics_are_read_and_the_convenience_object_fills_gaps() -> None:
    result: dict[str, Any] = {
        "metrics": trend_metrics("login", {"hash_wait": 100.0, "app": 170.0}),
        "where_the_time_went": {
            "login": {"hash_wait": {"avg": 1.0, "p(95)": 2.0}, "db": {"avg": 3.0, "p(95)": 4.0}}
        },
    }
    phases = breakdown.step_phases(result, "login")
    assert phases["hash_wait"] == {"avg": 100.0, "p(95)": 150.0}
    assert phases["db"] == {"avg": 3.0, "p(95)": 4.0}
    assert breakdown.step_phases(result, "refresh") == {}


def test_only_the_convenience_object_is_enough() -> None:
    result = {"where_the_time_went": {"refresh": {"app": {"avg": 2.0, "p(95)": 3.0}}}}
    got = breakdown.breakdown(result, {"refresh": 5.0, "logout": 4.0})
    assert list(got) == ["refresh"]
    assert got["refresh"]["segments_ms"]["remainder"] == pytest.approx(3.0)


def test_the_run_record_carries_the_breakdown_and_old_output_gives_none() -> None:
    plain = loadgen_output(iterations=620, vus=200, least=3)
    kwargs: dict[str, Any] = dict(
        topology="single",
        instances=1,
        balancer=False,
        repeat=0,
        cpu={},
        ceiling_iterations_per_s=16.0,
    )
    assert encode(records.measured_run(plain, **kwargs))["where_the_time_went"] == {}
    plain["metrics"].update(
        trend_metrics("login", {"hash_wait": 400.0, "hash": 59.0, "app": 462.0})
    )
    record = encode(records.measured_run(plain, **kwargs))
    login = record["where_the_time_went"]["login"]
    assert login["duration_ms"] == 480.0  # the client's average, from http_req_duration
    assert sum(login["segments_ms"].values()) == pytest.approx(480.0)
    step = StepTime(**{k: login[k] for k in ("duration_ms", "segments_ms", "phases")})
    assert step.share("hash_wait") == pytest.approx(400.0 / 480.0)


def add_breakdown(doc: dict[str, Any]) -> dict[str, Any]:
    """`doc` (a results.json) with where each step's time went added to every run, shaped
    like a bcrypt-bound run: signup and login wait for a hashing thread, refresh and logout
    are a few ms of Redis, JWT and handler work."""
    costs = {  # step: (hash, db, redis, jwt, handler's own work), ms
        "signup": (59.0, 1.2, 0.0, 0.1, 0.6),
        "login": (59.0, 0.9, 0.4, 0.1, 0.6),
        "refresh": (0.0, 0.0, 0.5, 0.2, 0.5),
        "logout": (0.0, 0.0, 0.4, 0.1, 0.4),
    }
    for series in doc["series"]:
        for run in series["runs"]:
            out = {}
            for step, s in run["steps"].items():
                duration = s["http_req_duration"]["avg"]
                hashed, db, redis, jwt, own = costs[step]
                remainder = min(1.0, duration / 10)
                balancer = 0.4 if run["balancer"] else 0.0
                wait = max(0.0, duration - hashed - db - redis - jwt - own - remainder - balancer)
                if not hashed:
                    wait = 0.0
                    remainder = duration - db - redis - jwt - own - balancer
                app = wait + hashed + db + redis + jwt + own
                phases = {"hash_wait": wait, "hash": hashed, "db": db, "redis": redis}
                phases |= {"jwt": jwt, "app": app, "remainder": remainder}
                if run["balancer"]:
                    phases |= {"lb_queue": 0.1, "lb_connect": 0.0, "lb_ttfb": app + 0.3}
                values = {p: {"avg": v, "p(95)": v * 1.4} for p, v in phases.items()}
                out[step] = breakdown.breakdown(
                    {"where_the_time_went": {step: values}}, {step: duration}
                )[step]
            run["where_the_time_went"] = out
    return doc


def test_the_sample_breakdown_adds_up() -> None:
    import json
    from pathlib import Path

    data = json.loads((Path(__file__).parent / "data" / "scaling.json").read_text())
    for series in add_breakdown(data)["series"]:
        for run in series["runs"]:
            for step in run["where_the_time_went"].values():
                assert sum(step["segments_ms"].values()) == pytest.approx(step["duration_ms"])
