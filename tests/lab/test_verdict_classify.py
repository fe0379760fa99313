"""The verdict's classification on its own: typed findings from the recorded cases, no prose."""

from __future__ import annotations

import pytest

from lab.reporting import mission
from lab.reporting.results import Results
from lab.reporting.verdict.classify import (
    ScaleReason,
    StoresOnLatency,
    beside_bcrypt,
    bottlenecks,
    negligible_stores,
    scale_out,
    timed_step,
)
from tests.lab.test_breakdown import add_breakdown
from tests.lab.test_verdict import doc, load


@pytest.mark.parametrize(
    ("case", "series", "reason", "limit"),
    [
        ("bcrypt_bound", "shared-host", ScaleReason.NO_CAPACITY, "bcrypt"),
        ("balancer_bound", "shared-host", ScaleReason.OUTSIDE, "balancer"),
        ("scaling", "cpu-limited", ScaleReason.FOLLOWED_CORES, "bcrypt"),
    ],
)
def test_scale_out_says_why_it_bought_what_it_did(
    case: str, series: str, reason: ScaleReason, limit: str
) -> None:
    results = load(case)
    s = next(x for x in results.series if x.name == series)
    found = scale_out(s, s.medians(), results.machine.cores)
    assert found is not None
    assert (found.reason, found.limit) == (reason, limit)
    assert found.ratio == pytest.approx(found.more.req_per_s / found.one.req_per_s)
    assert found.linear == pytest.approx(found.ratio * found.one.instances / found.more.instances)


def test_scale_out_needs_a_pair_with_more_instances() -> None:
    results = load("bcrypt_bound")
    s = results.series[0]
    only_single = {"single": s.medians()["single"]}
    assert scale_out(s, only_single, results.machine.cores) is None


def test_bottlenecks_group_topologies_in_the_order_measured() -> None:
    results = load("balancer_bound")
    s = results.series[0]
    found = bottlenecks(s, s.medians(), results.machine.cores)
    assert [(b.limit, b.topologies) for b in found] == [
        ("cpu", ("single",)),
        ("balancer", ("single+lb", "scaled")),
    ]
    assert all(len(b.runs) == len(b.topologies) for b in found)


def test_negligible_stores_are_found_below_the_mission_share() -> None:
    results = load("bcrypt_bound")
    s = results.series[0]
    found = negligible_stores(s, s.medians(), results.machine.cores)
    assert found is not None
    assert found.run.topology == "scaled"
    assert found.share < mission.INFRA_NEGLIGIBLE
    assert (found.postgres_s, found.redis_s) == pytest.approx((0.93, 0.27), abs=0.01)


def test_beside_bcrypt_only_on_the_shared_host() -> None:
    results = load("scaling")
    by_name = {s.name: s for s in results.series}
    limited = by_name["cpu-limited"]
    assert beside_bcrypt(results, limited, limited.medians()) is None
    shared = by_name["shared-host"]
    found = beside_bcrypt(results, shared, shared.medians())
    assert found is not None
    assert 0 < found.bcrypt_s <= found.service_s <= found.busy_s
    own_s = found.own_ms_per_iteration * found.iterations / 1000
    assert own_s == pytest.approx(found.service_s - found.bcrypt_s)


def test_timed_step_prefers_login_in_single() -> None:
    data = doc("bcrypt_bound")
    assert timed_step(Results.from_dict(data).series[0]) is None
    add_breakdown(data)
    found = timed_step(Results.from_dict(data).series[0])
    assert found is not None
    assert (found.run.topology, found.name) == ("single", "login")
    assert 0 <= found.stores_share <= 1
    assert found.stores_on_latency in StoresOnLatency
