"""Server-Timing phases: the recorder, the header text and the hasher's phases, no sockets."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from service import timing
from service.config import config_from_argv
from service.metrics import ServiceMetrics
from service.passwords import PasswordHasher

ENTRY = re.compile(r"^[a-z-]+;dur=\d+\.\d\d$")


@pytest.fixture
def executor() -> Iterator[ThreadPoolExecutor]:
    pool = ThreadPoolExecutor(max_workers=1)
    yield pool
    pool.shutdown(wait=True)


def test_header_lists_the_phases_that_ran_in_order_then_app() -> None:
    recorder = timing.PhaseRecorder(0.0)
    recorder.add(timing.REDIS, 0.0004)
    recorder.add(timing.HASH_WAIT, 0.01231)
    recorder.add(timing.REDIS, 0.0001)
    recorder.add(timing.HASH, 0.058019)
    header = timing.server_timing(recorder, 0.0721)
    assert header == "hash-wait;dur=12.31, hash;dur=58.02, redis;dur=0.50, app;dur=72.10"
    assert all(ENTRY.match(entry) for entry in header.split(", "))


def test_a_phase_that_ran_for_no_measurable_time_is_still_named() -> None:
    recorder = timing.PhaseRecorder(0.0)
    recorder.add(timing.JWT, 0.0)
    assert timing.server_timing(recorder, 0.001) == "jwt;dur=0.00, app;dur=1.00"


def test_app_is_always_present() -> None:
    assert timing.server_timing(timing.PhaseRecorder(0.0), 0.0) == "app;dur=0.00"


async def test_work_outside_a_request_is_not_counted_and_does_not_fail() -> None:
    await asyncio.create_task(_outside())


async def _outside() -> None:
    assert timing.current() is None
    timing.add(timing.DB, 1.0)
    timing.add_elapsed(timing.REDIS, 0.0)
    assert timing.current() is None


async def test_finish_detaches_the_recorder_and_measures_app() -> None:
    async def request() -> tuple[timing.PhaseRecorder, float]:
        recorder = timing.begin()
        timing.add(timing.DB, 0.002)
        await asyncio.sleep(0.01)
        app = timing.finish(recorder)
        timing.add(timing.DB, 5.0)  # after the response: must not reach the recorder
        return recorder, app

    recorder, app = await asyncio.create_task(request())
    assert app >= 0.01
    assert recorder.phases() == [(timing.DB, 0.002)]


async def test_concurrent_requests_keep_their_own_phases() -> None:
    async def request(phase: int, seconds: float) -> list[tuple[int, float]]:
        recorder = timing.begin()
        await asyncio.sleep(0.001)
        timing.add(phase, seconds)
        await asyncio.sleep(0.001)
        timing.finish(recorder)
        return recorder.phases()

    first, second = await asyncio.gather(
        asyncio.create_task(request(timing.DB, 0.1)),
        asyncio.create_task(request(timing.JWT, 0.2)),
    )
    assert first == [(timing.DB, 0.1)]
    assert second == [(timing.JWT, 0.2)]


async def test_the_hasher_reports_bcrypt_and_the_wait_for_a_thread(
    executor: ThreadPoolExecutor,
) -> None:
    """With one thread, the second of two concurrent hashes waits for the first."""
    hasher = PasswordHasher(rounds=8, executor=executor, max_in_flight=1)

    async def request() -> dict[int, float]:
        recorder = timing.begin()
        await hasher.hash("correct horse battery staple")
        timing.finish(recorder)
        return dict(recorder.phases())

    first, second = await asyncio.gather(
        asyncio.create_task(request()), asyncio.create_task(request())
    )
    assert set(first) == set(second) == {timing.HASH_WAIT, timing.HASH}
    assert first[timing.HASH] > 0.001
    assert first[timing.HASH_WAIT] < first[timing.HASH]
    # The second queued a little after the first had started hashing.
    assert second[timing.HASH_WAIT] >= 0.5 * first[timing.HASH]
    assert second[timing.HASH_WAIT] > 5 * first[timing.HASH_WAIT]


async def test_verification_of_an_unknown_account_is_timed_like_a_real_one(
    executor: ThreadPoolExecutor,
) -> None:
    hasher = PasswordHasher(rounds=4, executor=executor, max_in_flight=1)

    async def request() -> list[int]:
        recorder = timing.begin()
        await hasher.verify_unknown("correct horse battery staple")
        timing.finish(recorder)
        return [phase for phase, _ in recorder.phases()]

    assert await asyncio.create_task(request()) == [timing.HASH_WAIT, timing.HASH]
    assert await asyncio.create_task(request()) == [timing.HASH_WAIT, timing.HASH]


def recorder_of(**seconds: float) -> timing.PhaseRecorder:
    recorder = timing.PhaseRecorder(0.0)
    for name, value in seconds.items():
        recorder.add(timing.PHASE_NAMES.index(name.replace("_", "-")), value)
    return recorder


def test_phase_histogram_by_route_and_phase() -> None:
    metrics = ServiceMetrics()
    metrics.phases.observe("/auth/refresh", recorder_of(redis=0.0003, jwt=0.0002), 0.001)
    metrics.phases.observe("/auth/refresh", recorder_of(redis=0.0004), 0.002)
    metrics.phases.observe("/auth/signup", recorder_of(hash_wait=20.0, hash=0.06), 20.1)
    text = metrics.render().decode()
    series = "authscale_phase_duration_seconds"
    refresh = 'route="/auth/refresh"'
    assert f'{series}_count{{phase="redis",{refresh}}} 2.0' in text
    assert f'{series}_count{{phase="jwt",{refresh}}} 1.0' in text
    assert f'{series}_sum{{phase="app",{refresh}}} 0.003' in text
    assert f'{series}_bucket{{le="0.00025",phase="redis",{refresh}}} 0.0' in text
    assert f'{series}_bucket{{le="0.0005",phase="redis",{refresh}}} 2.0' in text
    assert f'{series}_bucket{{le="+Inf",phase="redis",{refresh}}} 2.0' in text
    assert f'{series}_bucket{{le="0.001",phase="app",{refresh}}} 1.0' in text
    assert f'{series}_bucket{{le="0.0025",phase="app",{refresh}}} 2.0' in text
    assert f'phase="db",{refresh}' not in text  # phases a route never ran are not shown
    signup = 'route="/auth/signup"'
    assert f'{series}_bucket{{le="10.0",phase="hash-wait",{signup}}} 0.0' in text
    assert f'{series}_bucket{{le="+Inf",phase="hash-wait",{signup}}} 1.0' in text
    assert f'{series}_bucket{{le="0.1",phase="hash",{signup}}} 1.0' in text


def server_timing_of(argv: list[str], **env: str) -> bool:
    config = config_from_argv(argv, {"AUTH_DEV": "1", **env})[1]
    assert config is not None
    return config.server_timing


def test_server_timing_is_on_unless_the_setting_or_the_flag_turns_it_off() -> None:
    assert server_timing_of([]) is True
    assert server_timing_of([], AUTH_SERVER_TIMING="off") is False
    assert server_timing_of(["--server-timing", "off"]) is False
    assert server_timing_of(["--server-timing", "on"], AUTH_SERVER_TIMING="off") is True
