"""When iterations start: k6's constant-vus, ramping-vus and constant-arrival-rate executors.

The decisions are pure (:func:`vus_at`, :func:`arrival_time`); the coroutines below only
start, retire and wait for VUs.

Closed model (``constant-vus``, ``ramping-vus``): each VU loops over iterations as fast as
the service answers. Latencies are *service times* (from the actual send); a slow service
also slows the arrival of new work (coordinated omission).

Open model (``constant-arrival-rate``): iteration i is due at ``t0 + phase + i / rate``,
whatever the service does. A due iteration goes to an idle VU; if none is idle and fewer
than ``max_vus`` exist, a new VU is allocated; otherwise it is dropped and counted in
``dropped_iterations`` (k6's policy) or, with ``when_busy="queue"``, it waits for the next
free VU and the wait is part of its corrected latency. Intended starts are honoured to
about 1 ms (the event loop's timer resolution, as with wrk2), so corrected latencies carry
up to ~1 ms of scheduling delay even against an idle server.

Graceful stop (k6): at the end of the window no new iteration starts; iterations in flight
may finish within ``graceful_stop_s``, then they are cancelled and count as interrupted.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Coroutine, Sequence
from time import perf_counter_ns
from typing import Any

from loadgen.config import LoadConfig
from loadgen.interrupt import Interrupt
from loadgen.scenario import VU, AuthScenario
from loadgen.schedule import QUEUE, Stage
from loadgen.stats import Recorder

_TICK_S = 0.05
_TICK_NS = 50_000_000
_MAX_BURST = 64


def vus_at(start_vus: int, stages: Sequence[Stage], elapsed_s: float) -> int:
    """VUs wanted ``elapsed_s`` into a ramping run: linear between stage targets."""
    current, stage_start = float(start_vus), 0.0
    for stage in stages:
        if elapsed_s < stage_start + stage.duration_s:
            fraction = (elapsed_s - stage_start) / stage.duration_s
            return round(current + (stage.target - current) * fraction)
        stage_start += stage.duration_s
        current = float(stage.target)
    return round(current)


def arrival_time(t0_ns: int, phase_ns: int, interval_ns: float, index: int) -> int:
    """Intended start (``perf_counter_ns``) of the open model's iteration ``index``."""
    return t0_ns + phase_ns + int(index * interval_ns)


class _Run:
    """Shared state of one executor run: the VUs and the tasks still running."""

    def __init__(
        self, config: LoadConfig, scenario: AuthScenario, recorder: Recorder, interrupt: Interrupt
    ) -> None:
        self.config = config
        self.interrupt = interrupt
        self.scenario = scenario
        self.recorder = recorder
        self.stopping = False
        self.vus: list[VU] = []
        self.tasks: set[asyncio.Task[None]] = set()

    def allocate(self) -> VU:
        vu = VU(self.config.vu_id_offset + len(self.vus) + 1)
        self.vus.append(vu)
        self.recorder.add_vu(vu.id)
        return vu

    def spawn(self, coroutine: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.ensure_future(coroutine)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    async def stop(self) -> None:
        """No new iterations; let in-flight ones finish within the graceful stop."""
        self.stopping = True
        pending = set(self.tasks)
        if pending:
            _, pending = await asyncio.wait(pending, timeout=self.config.graceful_stop_s)
        for task in pending:
            task.cancel()
        for task in pending:
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def run_executor(
    config: LoadConfig,
    scenario: AuthScenario,
    recorder: Recorder,
    t0_ns: int,
    interrupt: Interrupt | None = None,
) -> None:
    """Run the configured executor from ``t0_ns`` to the end of the graceful stop.

    A triggered ``interrupt`` ends the schedule early (the graceful stop still applies).
    """
    run = _Run(config, scenario, recorder, interrupt or Interrupt())
    if config.open_model:
        await _arrival_rate(run, t0_ns)
    else:
        await _ramping(run, t0_ns)
    await run.stop()


async def _vu_loop(run: _Run, vu: VU) -> None:
    scenario = run.scenario
    while not run.stopping and not vu.retired:
        await scenario.run_iteration(vu)


async def _ramping(run: _Run, t0_ns: int) -> None:
    config = run.config
    stages = config.stages or (Stage(config.run_s, config.vus),)
    end_ns = t0_ns + int(config.run_s * 1e9)
    running: dict[int, asyncio.Task[None]] = {}
    active = 0
    while True:
        now = perf_counter_ns()
        if now >= end_ns or run.interrupt.is_set:
            return
        wanted = vus_at(config.vus, stages, (now - t0_ns) / 1e9)
        if wanted != active:
            active = _set_active(run, running, wanted)
            run.recorder.set_vus(active, len(run.vus))
        await asyncio.sleep(min(_TICK_S, (end_ns - now) / 1e9))


def _set_active(run: _Run, running: dict[int, asyncio.Task[None]], wanted: int) -> int:
    """Activate the lowest-numbered VUs up to ``wanted``, retire the rest (gracefully)."""
    while len(run.vus) < wanted:
        run.allocate()
    for index, vu in enumerate(run.vus):
        vu.retired = index >= wanted
        task = running.get(vu.id)
        if not vu.retired and (task is None or task.done()):
            running[vu.id] = run.spawn(_vu_loop(run, vu))
    return min(wanted, len(run.vus))


async def _arrival_rate(run: _Run, t0_ns: int) -> None:
    config = run.config
    recorder = run.recorder
    assert config.rate is not None
    interval_ns = 1e9 / config.rate
    phase_ns = int(config.phase_s * 1e9)
    end_ns = t0_ns + int(config.run_s * 1e9)
    max_vus = config.vus_allocated
    idle: list[VU] = [run.allocate() for _ in range(config.vus)]
    idle.reverse()
    waiting: deque[int] = deque()
    queue_when_busy = config.when_busy == QUEUE
    busy = 0
    recorder.set_vus(0, len(run.vus))

    async def iterate(vu: VU, intended: int) -> None:
        nonlocal busy
        try:
            await run.scenario.run_iteration(vu, intended)
            while waiting and not run.stopping:
                await run.scenario.run_iteration(vu, waiting.popleft())
        finally:
            busy -= 1
            idle.append(vu)
            recorder.set_vus(busy, len(run.vus))

    index = burst = 0
    while True:
        now = perf_counter_ns()
        due = arrival_time(t0_ns, phase_ns, interval_ns, index)
        if due >= end_ns or run.interrupt.is_set:
            break
        if due > now:
            burst = 0
            await asyncio.sleep(min(due - now, end_ns - now, _TICK_NS) / 1e9)
            continue
        burst += 1
        if burst > _MAX_BURST:
            # Behind schedule: let responses in between, or catching up stalls the loop.
            burst = 0
            await asyncio.sleep(0)
            continue
        index += 1
        if idle:
            vu = idle.pop()
        elif len(run.vus) < max_vus:
            vu = run.allocate()
        elif queue_when_busy:
            waiting.append(due)
            continue
        else:
            recorder.drop_iteration(due)
            continue
        busy += 1
        recorder.set_vus(busy, len(run.vus))
        run.spawn(iterate(vu, due))
    left = end_ns - perf_counter_ns()
    if left > 0:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(run.interrupt.event.wait(), left / 1e9)
    for due in waiting:
        recorder.drop_iteration(due)
    waiting.clear()
