"""Running a load test, in this process or in N worker processes.

:func:`run_load` is the Python API (``await run_load(config)`` -> :class:`RunResult`).
With ``processes > 1`` it starts N spawned worker processes; each runs its share of the VUs
(or of the arrival rate, phase-shifted so the arrivals interleave), all start at the same
wall-clock instant so their time series line up, and each sends back its recorder in wire
form. HDR histograms are then added bucket by bucket, so the merged percentiles are exactly
those of one big histogram.

Worker protocol over a pipe: worker -> ``("ready",)``; parent -> ``("start", wall_time)``;
worker -> ``("progress", snapshot_dict)``... then ``("result", wire)`` or ``("error", text)``.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import multiprocessing
import os
import signal
import time
import traceback
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from dataclasses import asdict, dataclass, field, replace
from multiprocessing.connection import Connection, wait
from time import perf_counter_ns
from typing import Any, TypeVar

from loadgen import tracing
from loadgen.client import new_session
from loadgen.config import LoadConfig
from loadgen.errors import RunError
from loadgen.executors import run_executor
from loadgen.interrupt import Interrupt
from loadgen.monitor import Monitor, MonitorReport
from loadgen.result import RunResult
from loadgen.scenario import AuthScenario
from loadgen.snapshot import Snapshot
from loadgen.stats import Recorder, merge_recorders

SnapshotSink = Callable[[Snapshot], None]
T = TypeVar("T")

_PROGRESS_INTERVAL_S = 0.5
_START_DELAY_S = 0.3
_READY_TIMEOUT_S = 60.0


def _now_iso() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="milliseconds")


async def run_load(
    config: LoadConfig, on_progress: SnapshotSink | None = None, handle_signals: bool = False
) -> RunResult:
    """Run the test described by ``config``; ``on_progress`` gets running totals.

    ``handle_signals`` (the command line sets it) makes SIGINT/SIGTERM stop the run early
    with a summary, like k6; library callers keep their own signal handling.
    """
    if config.processes > 1:
        return await asyncio.to_thread(run_processes, config, on_progress)
    started_at = _now_iso()
    recorder, report = await run_partial(config, on_progress, handle_signals=handle_signals)
    return RunResult(config=config, recorder=recorder, monitors=[report], started_at=started_at)


async def run_partial(
    config: LoadConfig,
    on_progress: SnapshotSink | None = None,
    wait_for_start: Callable[[], Awaitable[float]] | None = None,
    handle_signals: bool = False,
) -> tuple[Recorder, MonitorReport]:
    """Run this process's share; ``wait_for_start`` returns the wall-clock start time.

    With ``handle_signals``, SIGINT/SIGTERM end the run early instead of killing it.
    """
    recorder = Recorder()
    interrupt = Interrupt()
    if handle_signals:
        interrupt.install()
    tracer = tracing.from_config(config)
    async with new_session(config.request_timeout_s) as session:
        if tracer is None:
            scenario = AuthScenario(session, config, recorder)
        else:
            scenario = tracer.scenario(session, config, recorder)
        if wait_for_start is not None:
            start_at = await wait_for_start()
            await asyncio.sleep(max(0.0, start_at - time.time()))
        t0 = perf_counter_ns()
        recorder.start(t0, config.warmup_s, config.window_s, time.time())
        monitor = Monitor(recorder, config.process_index)
        monitor.start(t0)
        reporter = (
            asyncio.ensure_future(_report_progress(recorder, on_progress))
            if on_progress is not None
            else None
        )
        try:
            await run_executor(config, scenario, recorder, t0, interrupt)
        finally:
            interrupt.uninstall()
            recorder.aborted = interrupt.is_set
            recorder.duration_ns = perf_counter_ns() - t0
            report = await monitor.stop()
            if reporter is not None:
                reporter.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await reporter
    if tracer is not None:
        await asyncio.to_thread(tracer.shutdown)  # exports the last spans
    if on_progress is not None:
        on_progress(recorder.snapshot(t0 + recorder.duration_ns))
    return recorder, report


async def _report_progress(recorder: Recorder, sink: SnapshotSink) -> None:
    while True:
        await asyncio.sleep(_PROGRESS_INTERVAL_S)
        sink(recorder.snapshot(perf_counter_ns()))


def _run_on_uvloop(coroutine: Coroutine[Any, Any, T]) -> T:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency
        return asyncio.run(coroutine)
    return uvloop.run(coroutine)


def run_sync(
    config: LoadConfig, on_progress: SnapshotSink | None = None, handle_signals: bool = False
) -> RunResult:
    """Blocking entry point: uvloop in this process, or the multi-process coordinator."""
    if config.processes > 1:
        return run_processes(config, on_progress, handle_signals)
    return _run_on_uvloop(run_load(config, on_progress, handle_signals))


def _worker_main(config: LoadConfig, conn: Connection) -> None:
    async def wait_for_start() -> float:
        conn.send(("ready",))
        message = await asyncio.to_thread(conn.recv)
        return float(message[1])

    def progress(snapshot: Snapshot) -> None:
        conn.send(("progress", asdict(snapshot)))

    async def work() -> None:
        recorder, report = await run_partial(config, progress, wait_for_start, True)
        conn.send(("result", {"recorder": recorder.to_wire(), "monitor": report.to_wire()}))

    try:
        _run_on_uvloop(work())
    except BaseException:
        conn.send(("error", traceback.format_exc()))
        raise
    finally:
        conn.close()


def run_processes(
    config: LoadConfig, on_progress: SnapshotSink | None = None, handle_signals: bool = False
) -> RunResult:
    """Run ``config.processes`` workers and merge their results exactly.

    With ``handle_signals`` (main thread only), the first SIGINT/SIGTERM is passed on to the
    workers as SIGTERM, which end early and still report; a second SIGINT interrupts.
    """
    count = config.processes
    context = multiprocessing.get_context("spawn")
    connections: list[Connection] = []
    workers = []
    for index in range(count):
        parent_end, child_end = context.Pipe()
        worker = context.Process(
            target=_worker_main,
            args=(config.share(index, count), child_end),
            name=f"loadgen-worker-{index}",
            daemon=True,
        )
        worker.start()
        child_end.close()
        connections.append(parent_end)
        workers.append(worker)
    previous = _forward_signals(workers) if handle_signals else {}
    try:
        return _coordinate(config, connections, workers, on_progress)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        for worker in workers:
            worker.join(timeout=5)
            if worker.is_alive():
                worker.terminate()
                worker.join()
        for connection in connections:
            connection.close()


def _forward_signals(workers: list[Any]) -> dict[int, Any]:
    forwarded = False

    def forward(signum: int, frame: object) -> None:
        nonlocal forwarded
        if forwarded:
            if signum == signal.SIGINT:
                raise KeyboardInterrupt
            return
        forwarded = True
        for worker in workers:
            if worker.pid is not None and worker.exitcode is None:
                os.kill(worker.pid, signal.SIGTERM)

    previous: dict[int, Any] = {}
    for signum in (signal.SIGINT, signal.SIGTERM):
        previous[signum] = signal.signal(signum, forward)
    return previous


def _sum_snapshots(snapshots: Iterable[Snapshot]) -> Snapshot:
    parts = list(snapshots)
    total = sum(parts, Snapshot())
    return replace(total, elapsed_s=sum(s.elapsed_s for s in parts) / len(parts))


@dataclass
class _Coordination:
    """What the parent knows of its workers while they run, message by message."""

    connections: list[Connection]
    on_progress: SnapshotSink | None
    ready: set[int] = field(default_factory=set)
    snapshots: dict[int, Snapshot] = field(default_factory=dict)
    fresh: set[int] = field(default_factory=set)
    results: dict[int, dict[str, Any]] = field(default_factory=dict)
    started_at: str = ""

    def receive(self, index: int, message: tuple[Any, ...]) -> None:
        kind = message[0]
        if kind == "ready":
            self._ready(index)
        elif kind == "progress":
            self._progress(index, Snapshot(**message[1]))
        elif kind == "result":
            self.results[index] = message[1]
        else:
            raise RunError(f"load generator worker {index} failed:\n{message[1]}")

    def _ready(self, index: int) -> None:
        self.ready.add(index)
        if len(self.ready) == len(self.connections):
            start = time.time() + _START_DELAY_S
            self.started_at = _now_iso()
            for c in self.connections:
                c.send(("start", start))

    def _progress(self, index: int, snapshot: Snapshot) -> None:
        self.snapshots[index] = snapshot
        self.fresh.add(index)
        if self.on_progress is not None and len(self.fresh) == len(self.connections):
            # One report per worker per round, so rates compare like with like.
            self.fresh.clear()
            self.on_progress(_sum_snapshots(self.snapshots.values()))


def _coordinate(
    config: LoadConfig,
    connections: list[Connection],
    workers: list[Any],
    on_progress: SnapshotSink | None,
) -> RunResult:
    index_of = {id(c): i for i, c in enumerate(connections)}
    state = _Coordination(connections, on_progress)
    results = state.results
    ready_deadline = time.monotonic() + _READY_TIMEOUT_S
    while len(results) < len(connections):
        if not state.started_at and time.monotonic() > ready_deadline:
            raise RunError("load generator workers did not become ready in time")
        waiting = [c for c in connections if index_of[id(c)] not in results]
        for ready_end in wait(waiting, 0.5):
            assert isinstance(ready_end, Connection)
            index = index_of[id(ready_end)]
            try:
                message: tuple[Any, ...] = ready_end.recv()
            except EOFError:
                raise RunError(f"load generator worker {index} exited unexpectedly") from None
            state.receive(index, message)
        for index, worker in enumerate(workers):
            if index not in results and worker.exitcode not in (None, 0):
                raise RunError(f"load generator worker {index} exited with {worker.exitcode}")
    recorder = merge_recorders(Recorder.from_wire(results[i]["recorder"]) for i in sorted(results))
    monitors = [MonitorReport.from_wire(results[i]["monitor"]) for i in sorted(results)]
    return RunResult(
        config=config, recorder=recorder, monitors=monitors, started_at=state.started_at
    )
