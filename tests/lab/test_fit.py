"""Amdahl and USL fits recover the parameters of synthetic curves they were generated from."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lab.reporting.fit import Fit, FitError, fit_amdahl, fit_models, fit_usl


def usl(n: np.ndarray, x1: float, sigma: float, kappa: float) -> np.ndarray:
    result: np.ndarray = x1 * n / (1 + sigma * (n - 1) + kappa * n * (n - 1))
    return result


@pytest.mark.parametrize(
    ("x1", "sigma", "kappa", "counts"),
    [
        (3.9, 0.02, 0.0005, 8),
        (1000.0, 0.05, 0.02, 6),
        (55.0, 0.3, 0.0001, 12),
        (16.0, 0.0, 0.01, 5),
        (7.5, 0.1, 0.0, 10),
    ],
)
def test_usl_recovers_known_parameters(x1: float, sigma: float, kappa: float, counts: int) -> None:
    n = np.arange(1, counts + 1, dtype=float)
    fit = fit_usl(n, usl(n, x1, sigma, kappa))
    assert fit.model == "usl"
    assert fit.x1 == pytest.approx(x1, rel=1e-6)
    assert fit.sigma == pytest.approx(sigma, abs=1e-6)
    assert fit.kappa == pytest.approx(kappa, rel=1e-4, abs=1e-9)
    assert fit.r_squared == pytest.approx(1.0, abs=1e-9)
    assert fit.points == counts


def test_usl_recovers_a_random_family_of_curves() -> None:
    rng = np.random.default_rng(6)
    for _ in range(40):
        x1, sigma, kappa = rng.uniform(1, 500), rng.uniform(0, 0.4), 10 ** rng.uniform(-5, -1)
        n = np.arange(1, int(rng.integers(4, 10)) + 1, dtype=float)
        fit = fit_usl(n, usl(n, x1, sigma, kappa))
        assert (fit.x1, fit.sigma, fit.kappa) == pytest.approx((x1, sigma, kappa), rel=1e-4)


def test_usl_peak_is_where_the_curve_turns_down() -> None:
    n = np.arange(1, 9, dtype=float)
    fit = fit_usl(n, usl(n, 10.0, 0.04, 0.01))
    expected = math.sqrt((1 - 0.04) / 0.01)
    assert fit.peak_instances == pytest.approx(expected, rel=1e-4)
    assert fit.peak_throughput == pytest.approx(float(usl(np.array(expected), 10.0, 0.04, 0.01)))
    dense = np.linspace(1, 30, 2901)
    assert fit.peak_throughput == pytest.approx(float(fit.predict(dense).max()), rel=1e-6)
    assert fit.asymptote is None


def test_no_peak_without_coherency_cost() -> None:
    n = np.arange(1, 7, dtype=float)
    fit = fit_usl(n, usl(n, 4.0, 0.05, 0.0))
    assert fit.kappa < 1e-9
    assert fit.peak_instances is None
    assert fit.peak_throughput is None
    assert fit.asymptote == pytest.approx(4.0 / 0.05, rel=1e-4)


def test_amdahl_recovers_contention_and_ignores_coherency() -> None:
    n = np.array([1.0, 2.0, 3.0, 4.0])
    fit = fit_amdahl(n, usl(n, 3.9, 0.12, 0.0))
    assert fit.model == "amdahl"
    assert fit.x1 == pytest.approx(3.9)
    assert fit.sigma == pytest.approx(0.12)
    assert fit.kappa == 0.0
    assert fit.r_squared == pytest.approx(1.0)


def test_amdahl_is_the_worse_fit_when_throughput_falls() -> None:
    n = np.arange(1, 9, dtype=float)
    x = usl(n, 10.0, 0.05, 0.03)
    assert fit_amdahl(n, x).r_squared < fit_usl(n, x).r_squared - 0.05  # type: ignore[operator]


def test_noisy_near_linear_curve_fits_with_small_contention() -> None:
    fit = fit_usl([1, 2, 3, 4], [3.9, 7.8, 11.65, 15.3])
    assert 0.0 <= fit.sigma < 0.02
    assert fit.kappa < 0.005
    assert fit.r_squared is not None
    assert fit.r_squared > 0.999
    assert fit.predict([3.0])[0] == pytest.approx(11.65, rel=0.01)


def test_flat_curve_is_all_contention() -> None:
    fit = fit_amdahl([1, 2, 3], [15.1, 15.0, 15.05])
    assert fit.sigma > 0.95
    assert fit.x1 == pytest.approx(15.05, rel=0.01)


def test_identical_throughputs_have_no_r_squared() -> None:
    assert fit_amdahl([1, 2], [5.0, 5.0]).r_squared is None


@pytest.mark.parametrize(
    ("instances", "throughput", "fitter"),
    [
        ([1, 2], [1.0, 2.0], fit_usl),
        ([2, 2, 2], [1.0, 2.0, 3.0], fit_usl),
        ([1], [1.0], fit_amdahl),
        ([1, 2], [1.0], fit_amdahl),
        ([0, 1, 2], [1.0, 2.0, 3.0], fit_usl),
        ([1, 2, 3], [1.0, -2.0, 3.0], fit_usl),
        ([1, 2, 3], [1.0, float("nan"), 3.0], fit_usl),
    ],
)
def test_points_that_cannot_determine_the_model_are_refused(
    instances: list[float], throughput: list[float], fitter: object
) -> None:
    with pytest.raises(FitError):
        fitter(instances, throughput)  # type: ignore[operator]


def test_fit_is_a_plain_value() -> None:
    fit = Fit(model="usl", x1=2.0, sigma=0.5, kappa=0.0, r_squared=None, points=3)
    assert list(fit.predict([1, 2, 3])) == pytest.approx([2.0, 8 / 3, 3.0])
    assert fit.asymptote == 4.0


def test_fit_models_gives_what_the_points_determine() -> None:
    assert list(fit_models([1, 2, 3], [4.0, 7.8, 11.5])) == ["amdahl", "usl"]
    assert list(fit_models([1, 2], [4.0, 7.8])) == ["amdahl"]
    assert fit_models([1], [4.0]) == {}
