"""The generator against a fake auth API on loopback: counting, executors, stalls, processes."""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import pytest

from lab.harness.procs import free_port
from loadgen.config import LoadConfig
from loadgen.runner import run_load, run_processes
from loadgen.schedule import QUEUE, Stage
from loadgen.summary import render_summary
from tests.loadgen.fakeauth import FakeAuth, serve

EMAIL = re.compile(r"^lg-([a-z0-9]+)-(\d+)-(\d+)-(\d+)@example\.com$")


@pytest.fixture
async def fake() -> AsyncIterator[FakeAuth]:
    async with serve(FakeAuth()) as server:
        yield server


async def test_closed_model_counts_iterations_requests_and_failures(fake: FakeAuth) -> None:
    fake.fail_every["login"] = 5
    result = await run_load(LoadConfig(target=fake.url, vus=4, duration_s=1.0, quiet=True))
    recorder = result.recorder
    logins_failed = fake.requests["login"] // 5
    assert recorder.iterations == fake.requests["signup"] > 20
    assert recorder.iterations_failed == logins_failed
    assert recorder.iterations_interrupted == 0
    assert fake.requests["refresh"] == fake.requests["login"] - logins_failed
    steps = recorder.steps
    assert {step: stats.requests for step, stats in steps.items()} == dict(fake.requests)
    assert steps["login"].failed == logins_failed
    assert sum(s.failed for s in steps.values()) == logins_failed
    assert recorder.checks["login status is 200"] == [
        fake.requests["login"] - logins_failed,
        logins_failed,
    ]
    assert recorder.checks["logout status is 204"] == [fake.requests["logout"], 0]
    assert 1 <= sum(s.connecting.count for s in steps.values()) <= 4
    data = result.summary_data()
    assert data["window"]["vus_counted"] == 4
    assert data["window"]["min_iterations_per_vu"] >= 3


async def test_every_user_is_fresh_and_unique(fake: FakeAuth) -> None:
    await run_load(LoadConfig(target=fake.url, vus=3, duration_s=0.5, run_id="abc123"))
    assert len(fake.emails) == len(set(fake.emails)) > 5
    parsed = [EMAIL.match(email) for email in fake.emails]
    assert all(match is not None and match.group(1) == "abc123" for match in parsed)
    assert {match.group(3) for match in parsed if match} == {"1", "2", "3"}


async def test_a_failed_step_ends_the_iteration_and_the_vu_goes_on() -> None:
    config = LoadConfig(target=f"http://127.0.0.1:{free_port()}", vus=2, duration_s=0.3)
    recorder = (await run_load(config)).recorder
    assert recorder.iterations > 4
    assert recorder.iterations_failed == recorder.iterations
    assert recorder.steps["signup"].failed == recorder.steps["signup"].requests
    assert recorder.steps["login"].requests == 0


async def test_server_stall_shows_in_corrected_latency_not_in_service_time(fake: FakeAuth) -> None:
    config = LoadConfig(
        target=fake.url, rate=100.0, vus=2, max_vus=2, when_busy=QUEUE, duration_s=3.0
    )

    async def stall_later() -> None:
        await asyncio.sleep(1.0)
        fake.stall(1.0)

    stall = asyncio.ensure_future(stall_later())
    result = await run_load(config)
    await stall
    metrics = result.summary_data()["metrics"]
    service = metrics["http_req_duration"]["values"]
    corrected = metrics["http_req_duration_corrected"]["values"]
    assert service["p(90)"] < 100
    assert corrected["p(90)"] > 300
    assert corrected["max"] > 800
    assert result.recorder.dropped == 0
    total = result.recorder.step_total()
    assert total.corrected.count == total.duration.count


async def test_open_model_drops_arrivals_when_no_vu_is_free(fake: FakeAuth) -> None:
    fake.delays.update(dict.fromkeys(("signup", "login", "refresh", "logout"), 0.05))
    config = LoadConfig(target=fake.url, rate=50.0, vus=1, max_vus=2, duration_s=1.5)
    result = await run_load(config)
    recorder = result.recorder
    assert recorder.iterations_started + recorder.dropped == 75
    assert recorder.dropped > 30
    assert recorder.vus_max == 2
    assert result.summary_data()["metrics"]["dropped_iterations"]["values"]["count"] == (
        recorder.dropped
    )


async def test_graceful_stop_cancels_iterations_that_outlive_it(fake: FakeAuth) -> None:
    fake.delays["refresh"] = 1.5
    config = LoadConfig(target=fake.url, vus=3, duration_s=0.3, graceful_stop_s=0.2)
    result = await run_load(config)
    window = result.summary_data()["window"]
    assert window["iterations_started"] == 3
    assert window["iterations_interrupted"] == 3
    assert window["iterations_completed"] == 0
    assert result.recorder.duration_ns < 1.5e9


async def test_iterations_may_finish_within_the_graceful_stop_but_outside_the_window(
    fake: FakeAuth,
) -> None:
    fake.delays["logout"] = 0.4
    config = LoadConfig(target=fake.url, vus=2, duration_s=0.2, graceful_stop_s=5.0)
    result = await run_load(config)
    window = result.summary_data()["window"]
    assert window["iterations_completed"] == 2
    assert window["iterations_completed_in_window"] == 0
    assert window["iterations_interrupted"] == 0
    assert window["http_reqs_in_window"] == 6
    assert result.recorder.step_total().requests == 8


async def test_ramping_vus_climb_to_the_target_and_back(fake: FakeAuth) -> None:
    config = LoadConfig(target=fake.url, vus=0, stages=(Stage(0.4, 4), Stage(0.4, 0)))
    result = await run_load(config)
    recorder = result.recorder
    assert recorder.vus_peak == 4
    assert recorder.vus_max == 4
    assert recorder.iterations > 4
    assert recorder.iterations_interrupted == 0


async def test_two_processes_make_unique_users_and_merge_exactly(fake: FakeAuth) -> None:
    config = LoadConfig(target=fake.url, vus=4, duration_s=1.0, processes=2, quiet=True)
    result = await asyncio.to_thread(run_processes, config)
    emails = fake.emails
    assert len(emails) == len(set(emails)) > 10
    processes = Counter(m.group(2) for m in map(EMAIL.match, emails) if m)
    assert set(processes) == {"0", "1"}
    assert result.recorder.iterations == fake.requests["signup"]
    assert result.recorder.steps["logout"].duration.count == fake.requests["logout"]
    assert len(result.recorder.per_vu_in_window) == 4
    assert [m.process_index for m in result.monitors] == [0, 1]
    data = result.summary_data()
    assert data["metrics"]["http_reqs"]["values"]["count"] == sum(fake.requests.values())
    assert data["metrics"]["vus_max"]["values"]["value"] == 4


async def test_warm_up_is_left_out_of_the_metrics_and_the_window(fake: FakeAuth) -> None:
    config = LoadConfig(target=fake.url, vus=2, duration_s=0.6, warmup_s=0.6)
    result = await run_load(config)
    data = result.summary_data()
    window = data["window"]
    assert window["warmup_s"] == 0.6
    series_requests = sum(data["timeseries"]["http_reqs"])
    measured = data["metrics"]["http_reqs"]["values"]["count"]
    assert series_requests == sum(fake.requests.values())
    assert 0.2 * series_requests < measured < 0.8 * series_requests
    assert window["iterations_completed"] == fake.requests["signup"]
    assert 0 < window["iterations_completed_in_window"] < window["iterations_completed"]
    assert window["start_epoch_s"] == pytest.approx(result.recorder.start_epoch_s + 0.6)
    assert 1.1e9 < result.recorder.duration_ns < 2e9


async def test_think_time_is_spent_between_steps_and_kept_out_of_corrected_latency(
    fake: FakeAuth,
) -> None:
    config = LoadConfig(target=fake.url, rate=4.0, vus=2, duration_s=1.0, think_time_s=0.1)
    result = await run_load(config)
    recorder = result.recorder
    assert recorder.iterations == 4
    assert recorder.iteration_duration.min >= 300_000
    corrected = recorder.step_total().corrected
    assert corrected.max < 100_000


def assert_phases_add_up(data: dict[str, Any], outermost: tuple[str, ...]) -> None:
    """Per step, the outermost phases plus the remainder are the client's average duration."""
    metrics = data["metrics"]
    for step, phases in data["where_the_time_went"].items():
        duration = metrics[f"http_req_duration{{step:{step}}}"]["values"]["avg"]
        server = sum(phases[phase]["avg"] for phase in outermost)
        # each entry is rounded to 10 µs by the server and each sample truncated to 1 µs
        assert server + phases["remainder"]["avg"] == pytest.approx(duration, abs=0.02), step
        assert 0 < phases["remainder"]["avg"] < duration


async def test_server_timing_is_aggregated_per_step_and_adds_up(fake: FakeAuth) -> None:
    fake.server_timing = True
    fake.delays["login"] = 0.02
    result = await run_load(LoadConfig(target=fake.url, vus=2, duration_s=1.0, quiet=True))
    data = result.summary_data()
    where = data["where_the_time_went"]
    assert list(where) == ["signup", "login", "refresh", "logout"]
    assert list(where["login"]) == ["db", "app", "remainder"]
    assert where["login"]["db"]["avg"] == 0.5
    assert where["login"]["app"]["avg"] >= 20
    assert where["signup"]["app"]["avg"] < 20
    assert_phases_add_up(data, ("app",))
    for stats in result.recorder.steps.values():
        assert stats.server_timing["app"].count == stats.server_timing["remainder"].count
        assert stats.server_timing["app"].count == stats.requests > 5
    assert "█ WHERE THE TIME WENT" in render_summary(data)


async def test_balancer_entries_on_a_second_line_and_two_processes(fake: FakeAuth) -> None:
    fake.server_timing = fake.balancer_timing = True
    config = LoadConfig(target=fake.url, vus=4, duration_s=1.0, processes=2, quiet=True)
    result = await asyncio.to_thread(run_processes, config)
    data = result.summary_data()
    login = data["where_the_time_went"]["login"]
    assert list(login) == ["db", "app", "lb_queue", "lb_connect", "lb_ttfb", "remainder"]
    assert login["lb_ttfb"]["avg"] == pytest.approx(login["app"]["avg"] + 0.2, abs=0.01)
    assert_phases_add_up(data, ("lb_queue", "lb_connect", "lb_ttfb"))
    requests = sum(stats.requests for stats in result.recorder.steps.values())
    assert requests == sum(fake.requests.values())
    assert sum(s.server_timing["lb_ttfb"].count for s in result.recorder.steps.values()) == requests
