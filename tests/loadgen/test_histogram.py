import math
import random

import pytest

from loadgen.histogram import HIGHEST_TRACKABLE_US, Histogram


def exact_percentile(sorted_values: list[int], percentile: float) -> int:
    """Nearest-rank percentile, the definition HdrHistogram follows."""
    rank = max(1, math.ceil(round(percentile * len(sorted_values) / 100, 6)))
    return sorted_values[rank - 1]


@pytest.fixture
def samples() -> list[int]:
    rng = random.Random(1234)
    return [int(rng.lognormvariate(8, 1.2)) for _ in range(50_000)]


@pytest.mark.parametrize("percentile", [1, 10, 50, 90, 95, 99, 99.9, 100])
def test_percentiles_are_within_a_tenth_of_a_percent_of_exact(
    samples: list[int], percentile: float
) -> None:
    histogram = Histogram()
    for value in samples:
        histogram.record(value)
    exact = exact_percentile(sorted(samples), percentile)
    assert histogram.percentile(percentile) == pytest.approx(exact, rel=1e-3, abs=1)


def test_count_sum_min_max_are_exact(samples: list[int]) -> None:
    histogram = Histogram()
    for value in samples:
        histogram.record(value)
    assert histogram.count == len(samples)
    assert histogram.total == sum(samples)
    assert histogram.min == min(samples)
    assert histogram.max == max(samples)
    assert histogram.mean_us == pytest.approx(sum(samples) / len(samples))


def test_fast_record_fills_the_same_buckets_as_the_reference_implementation(
    samples: list[int],
) -> None:
    histogram = Histogram()
    for value in samples[:5000]:
        histogram.record(value)
    reference = Histogram()
    for value in samples[:5000]:
        reference._hdr.record_value(value)
    assert list(histogram._hdr.counts) == list(reference._hdr.counts)


def test_merge_equals_one_histogram_of_all_samples(samples: list[int]) -> None:
    whole, left, right = Histogram(), Histogram(), Histogram()
    for index, value in enumerate(samples):
        whole.record(value)
        (left if index % 3 else right).record(value)
    left.merge(right)
    assert left.count == whole.count
    assert left.total == whole.total
    assert (left.min, left.max) == (whole.min, whole.max)
    wanted = [50, 90, 99, 99.9]
    assert left.percentiles(wanted) == whole.percentiles(wanted)


def test_wire_round_trip_is_exact(samples: list[int]) -> None:
    histogram = Histogram()
    for value in samples:
        histogram.record(value)
    restored = Histogram.from_wire(histogram.to_wire())
    assert (restored.count, restored.total, restored.min, restored.max) == (
        histogram.count,
        histogram.total,
        histogram.min,
        histogram.max,
    )
    assert restored.percentiles([50, 99]) == histogram.percentiles([50, 99])


def test_empty_histogram_reports_zeros_and_round_trips() -> None:
    empty = Histogram()
    assert empty.percentile(99) == 0
    assert empty.min_us == 0
    assert empty.mean_us == 0
    assert Histogram.from_wire(empty.to_wire()).count == 0


def test_out_of_range_values_are_clamped() -> None:
    histogram = Histogram()
    histogram.record(-5)
    histogram.record(HIGHEST_TRACKABLE_US * 10)
    assert histogram.min == 0
    assert histogram.max == HIGHEST_TRACKABLE_US


def test_merging_different_precisions_is_refused() -> None:
    with pytest.raises(ValueError, match="precision"):
        Histogram(3).merge(Histogram(2))
