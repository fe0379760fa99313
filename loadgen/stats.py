"""Everything one run measures, in k6's vocabulary, and how partial results merge.

A :class:`Recorder` lives in each generator process. The scenario calls
:meth:`Recorder.record_request` once per HTTP request and :meth:`Recorder.end_iteration`
once per iteration; both are plain attribute arithmetic plus histogram records, so the hot
path stays cheap. :meth:`Recorder.to_wire` / :meth:`Recorder.from_wire` and
:meth:`Recorder.merge` combine the recorders of several processes exactly (HDR histograms are
added bucket by bucket, never averaged). Per step it keeps a
:class:`~loadgen.stepstats.StepStats`; the metrics' k6 names are in :mod:`loadgen.metrics`.

Times are recorded as integer microseconds; the time series is indexed by whole seconds since
the test start (``t0``), using each request's *end* time.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from loadgen.histogram import Histogram
from loadgen.series import SecondStats
from loadgen.snapshot import Snapshot
from loadgen.stepstats import StepStats

STEPS: tuple[str, ...] = ("signup", "login", "refresh", "logout")


class Recorder:
    """All measurements of one generator process (or the merge of several)."""

    def __init__(self) -> None:
        self.t0_ns = 0
        self.warmup_end_ns = 0
        self.window_end_ns = 0
        self.start_epoch_s = 0.0
        self.measuring = True
        self.steps: dict[str, StepStats] = {step: StepStats() for step in STEPS}
        self.iteration_duration = Histogram()
        self.iteration_corrected = Histogram()
        self.iterations_started = 0
        self.iterations_ended = 0
        self.iterations = 0
        self.iterations_failed = 0
        self.iterations_in_window = 0
        self.requests_in_window = 0
        self.dropped = 0
        self.checks: dict[str, list[int]] = {}
        #: Failed requests after the warm-up by cause (`connection refused`, `HTTP 503`, …).
        self.failures: dict[str, int] = {}
        self.seconds: list[SecondStats] = []
        self.vus = 0
        self.vus_min = 0
        self.vus_peak = 0
        self.vus_max = 0
        self.per_vu_in_window: dict[int, int] = {}
        self.duration_ns = 0
        self.aborted = False

    def start(
        self, t0_ns: int, warmup_s: float, window_s: float, start_epoch_s: float = 0.0
    ) -> None:
        """Fix the test start; all time series seconds count from here.

        What ends before ``warmup_s`` goes only into the time series; the window is
        ``[warmup_s, warmup_s + window_s]`` after ``t0_ns``.
        """
        self.t0_ns = t0_ns
        self.warmup_end_ns = t0_ns + int(warmup_s * 1e9)
        self.window_end_ns = self.warmup_end_ns + int(window_s * 1e9)
        self.start_epoch_s = start_epoch_s
        self.measuring = warmup_s <= 0

    def second(self, t_ns: int) -> SecondStats:
        index = (t_ns - self.t0_ns) // 1_000_000_000
        seconds = self.seconds
        if index < 0:
            index = 0
        while len(seconds) <= index:
            seconds.append(SecondStats())
        return seconds[index]

    def record_request(
        self,
        step: StepStats,
        t_send: int,
        t_head: int,
        t_end: int,
        t_intended: int,
        connect_ns: int,
        ok: bool,
        sent: int,
        received: int,
        server_timing: str | None = None,
        cause: str | None = None,
    ) -> None:
        """One finished HTTP request (``t_*`` from ``perf_counter_ns``).

        ``t_intended`` is the request's intended start in the open model, else 0. Requests
        that end during the warm-up only count in the time series (and switch the following
        checks off until the warm-up is over). ``server_timing`` is the response's
        ``Server-Timing`` header, if it had one; ``cause`` says why a failed one failed.
        """
        duration_us = (t_end - t_send - connect_ns) // 1000
        second = self.second(t_end)
        second.requests += 1
        second.bytes_sent += sent
        second.bytes_received += received
        second.duration.record(duration_us)
        if not ok:
            second.failed += 1
        if t_intended:
            corrected_us = (t_end - t_intended) // 1000
            second.corrected.record(corrected_us)
        if t_end < self.warmup_end_ns:
            self.measuring = False
            return
        self.measuring = True
        step.duration.record(duration_us)
        step.waiting.record((t_head - t_send - connect_ns) // 1000)
        if connect_ns:
            step.connecting.record(connect_ns // 1000)
        step.requests += 1
        step.bytes_sent += sent
        step.bytes_received += received
        if t_intended:
            step.corrected.record(corrected_us)
        if not ok:
            step.failed += 1
            reason = cause or "unknown"
            self.failures[reason] = self.failures.get(reason, 0) + 1
        if server_timing:
            step.record_server_timing(server_timing, duration_us)
        if t_end <= self.window_end_ns:
            self.requests_in_window += 1

    def check(self, name: str, passed: bool) -> None:
        """One check of the response recorded last (ignored during the warm-up)."""
        if not self.measuring:
            return
        counts = self.checks.get(name)
        if counts is None:
            counts = self.checks[name] = [0, 0]
        counts[0 if passed else 1] += 1

    def begin_iteration(self) -> None:
        self.iterations_started += 1

    def end_iteration(
        self, vu_id: int, t_start: int, t_end: int, t_intended: int, failed: bool
    ) -> None:
        """One iteration that ran to its end (successfully or not)."""
        self.iterations_ended += 1
        second = self.second(t_end)
        second.iterations += 1
        if failed:
            second.iterations_failed += 1
        if t_end < self.warmup_end_ns:
            return
        self.iterations += 1
        self.iteration_duration.record((t_end - t_start) // 1000)
        if t_intended:
            self.iteration_corrected.record((t_end - t_intended) // 1000)
        if failed:
            self.iterations_failed += 1
        if t_end <= self.window_end_ns:
            self.iterations_in_window += 1
            self.per_vu_in_window[vu_id] = self.per_vu_in_window.get(vu_id, 0) + 1

    def drop_iteration(self, t_ns: int) -> None:
        self.second(t_ns).dropped += 1
        if t_ns >= self.warmup_end_ns:
            self.dropped += 1

    def add_vu(self, vu_id: int) -> None:
        self.per_vu_in_window.setdefault(vu_id, 0)

    def set_vus(self, active: int, allocated: int) -> None:
        if not self.vus_peak and not self.vus_min:
            self.vus_min = active
        self.vus = active
        self.vus_min = min(self.vus_min, active)
        self.vus_peak = max(self.vus_peak, active)
        self.vus_max = max(self.vus_max, allocated)

    @property
    def iterations_interrupted(self) -> int:
        return self.iterations_started - self.iterations_ended

    def step_total(self) -> StepStats:
        total = StepStats()
        for stats in self.steps.values():
            total.merge(stats)
        return total

    def snapshot(self, now_ns: int) -> Snapshot:
        steps = self.steps.values()
        return Snapshot(
            elapsed_s=max(0.0, (now_ns - self.t0_ns) / 1e9),
            vus=self.vus,
            vus_max=self.vus_max,
            iterations=self.iterations,
            iterations_failed=self.iterations_failed,
            requests=sum(s.requests for s in steps),
            requests_failed=sum(s.failed for s in steps),
            dropped=self.dropped,
        )

    def to_wire(self) -> dict[str, Any]:
        return {
            "steps": {name: stats.to_wire() for name, stats in self.steps.items()},
            "iteration_duration": self.iteration_duration.to_wire(),
            "iteration_corrected": self.iteration_corrected.to_wire(),
            "counters": {
                "iterations_started": self.iterations_started,
                "iterations_ended": self.iterations_ended,
                "iterations": self.iterations,
                "iterations_failed": self.iterations_failed,
                "iterations_in_window": self.iterations_in_window,
                "requests_in_window": self.requests_in_window,
                "dropped": self.dropped,
                "vus": self.vus,
                "vus_min": self.vus_min,
                "vus_peak": self.vus_peak,
                "vus_max": self.vus_max,
                "duration_ns": self.duration_ns,
            },
            "start_epoch_s": self.start_epoch_s,
            "aborted": self.aborted,
            "checks": self.checks,
            "failures": self.failures,
            "seconds": [second.to_wire() for second in self.seconds],
            "per_vu_in_window": sorted(self.per_vu_in_window.items()),
        }

    @classmethod
    def from_wire(cls, wire: dict[str, Any]) -> Recorder:
        recorder = cls()
        recorder.steps = {name: StepStats.from_wire(w) for name, w in wire["steps"].items()}
        recorder.iteration_duration = Histogram.from_wire(wire["iteration_duration"])
        recorder.iteration_corrected = Histogram.from_wire(wire["iteration_corrected"])
        for name, value in wire["counters"].items():
            setattr(recorder, name, int(value))
        recorder.start_epoch_s = float(wire["start_epoch_s"])
        recorder.aborted = bool(wire["aborted"])
        recorder.checks = {name: [int(p), int(f)] for name, (p, f) in wire["checks"].items()}
        recorder.failures = {str(k): int(v) for k, v in wire.get("failures", {}).items()}
        recorder.seconds = [SecondStats.from_wire(w) for w in wire["seconds"]]
        recorder.per_vu_in_window = {int(vu): int(n) for vu, n in wire["per_vu_in_window"]}
        return recorder

    def merge(self, other: Recorder) -> None:
        """Add another process's measurements (its VU ids must not overlap ours)."""
        for name, stats in other.steps.items():
            self.steps.setdefault(name, StepStats()).merge(stats)
        self.iteration_duration.merge(other.iteration_duration)
        self.iteration_corrected.merge(other.iteration_corrected)
        self.iterations_started += other.iterations_started
        self.iterations_ended += other.iterations_ended
        self.iterations += other.iterations
        self.iterations_failed += other.iterations_failed
        self.iterations_in_window += other.iterations_in_window
        self.requests_in_window += other.requests_in_window
        self.dropped += other.dropped
        self.vus += other.vus
        self.vus_min += other.vus_min
        self.vus_peak += other.vus_peak
        self.vus_max += other.vus_max
        self.duration_ns = max(self.duration_ns, other.duration_ns)
        if not self.start_epoch_s:
            self.start_epoch_s = other.start_epoch_s
        self.aborted = self.aborted or other.aborted
        for name, (passes, fails) in other.checks.items():
            counts = self.checks.setdefault(name, [0, 0])
            counts[0] += passes
            counts[1] += fails
        for cause, count in other.failures.items():
            self.failures[cause] = self.failures.get(cause, 0) + count
        while len(self.seconds) < len(other.seconds):
            self.seconds.append(SecondStats())
        for mine, theirs in zip(self.seconds, other.seconds, strict=False):
            mine.merge(theirs)
        self.per_vu_in_window.update(other.per_vu_in_window)


def merge_recorders(recorders: Iterable[Recorder]) -> Recorder:
    merged = Recorder()
    for recorder in recorders:
        merged.merge(recorder)
    return merged
