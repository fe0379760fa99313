import pickle

from loadgen.snapshot import Snapshot
from loadgen.stats import Recorder, merge_recorders
from tests.loadgen.samples import synthetic_recorder


def test_recorders_merge_exactly_through_the_wire() -> None:
    one, two = synthetic_recorder(40), synthetic_recorder(30)
    two.per_vu_in_window = {vu + 100: n for vu, n in two.per_vu_in_window.items()}
    merged = merge_recorders(
        Recorder.from_wire(pickle.loads(pickle.dumps(r.to_wire()))) for r in (one, two)
    )
    assert merged.iterations == 70
    assert merged.iterations_failed == one.iterations_failed + two.iterations_failed
    login = merged.steps["login"]
    assert login.requests == 70
    assert login.duration.count == 70
    assert (
        login.duration.total
        == one.steps["login"].duration.total + two.steps["login"].duration.total
    )
    reference = synthetic_recorder(40).steps["login"].duration
    reference.merge(synthetic_recorder(30).steps["login"].duration)
    assert login.duration.percentiles([50, 95]) == reference.percentiles([50, 95])
    assert merged.checks["login status is 200"] == [
        one.checks["login status is 200"][0] + two.checks["login status is 200"][0],
        one.checks["login status is 200"][1] + two.checks["login status is 200"][1],
    ]
    assert sum(s.requests for s in merged.seconds) == sum(
        s.requests for s in (one.step_total(), two.step_total())
    )
    assert len(merged.per_vu_in_window) == 4


def test_requests_land_in_the_second_they_ended() -> None:
    recorder = Recorder()
    recorder.start(10_000_000_000, 0.0, 1.0)
    step = recorder.steps["signup"]
    recorder.record_request(step, 10_100_000_000, 10_200_000_000, 10_900_000_000, 0, 0, True, 1, 1)
    recorder.record_request(step, 10_900_000_000, 11_000_000_000, 11_100_000_000, 0, 0, False, 1, 1)
    assert [s.requests for s in recorder.seconds] == [1, 1]
    assert [s.failed for s in recorder.seconds] == [0, 1]
    assert recorder.requests_in_window == 1
    assert step.duration.max == 800_000


def test_snapshots_add_up() -> None:
    total = Snapshot(elapsed_s=1.0, vus=2, requests=5) + Snapshot(elapsed_s=1.5, vus=3, requests=7)
    assert (total.elapsed_s, total.vus, total.requests) == (1.5, 5, 12)


def test_warm_up_counts_only_in_the_time_series() -> None:
    recorder = Recorder()
    recorder.start(0, 1.0, 2.0, 1000.0)
    step = recorder.steps["login"]
    recorder.begin_iteration()
    recorder.record_request(step, 100_000_000, 200_000_000, 900_000_000, 0, 0, False, 1, 1)
    recorder.check("login status is 200", False)
    recorder.end_iteration(1, 0, 900_000_000, 0, True)
    recorder.begin_iteration()
    recorder.record_request(step, 1_000_000_000, 1_100_000_000, 1_200_000_000, 0, 0, True, 1, 1)
    recorder.check("login status is 200", True)
    recorder.end_iteration(1, 1_000_000_000, 1_200_000_000, 0, False)
    assert step.requests == 1
    assert step.failed == 0
    assert recorder.checks == {"login status is 200": [1, 0]}
    assert (recorder.iterations, recorder.iterations_ended, recorder.iterations_failed) == (1, 2, 0)
    assert recorder.iterations_interrupted == 0
    assert [s.requests for s in recorder.seconds] == [1, 1]
    assert [s.failed for s in recorder.seconds] == [1, 0]
    assert recorder.iterations_in_window == 1
    assert recorder.requests_in_window == 1
