"""Scalability models fitted to a scale-out curve: Amdahl's law and the Universal Scalability Law.

    Amdahl  X(N) = X1·N / (1 + σ(N−1))
    USL     X(N) = X1·N / (1 + σ(N−1) + κN(N−1))

X(N) is throughput with N instances, σ the contention (the serial share of the work), κ the
coherency cost (the price of keeping N instances in agreement, which makes throughput fall
after a peak at N* = √((1−σ)/κ)). Both are fitted by least squares on throughput with σ in
[0, 1] and κ ≥ 0: a grid over (σ, κ), with the best X1 for each cell in closed form, finds
the basin without a starting guess; Levenberg-Marquardt then refines all three.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

#: Below this κ the model has no peak in any range worth naming.
KAPPA_NONE = 1e-9
_GRID = 61
_ITERATIONS = 500
_KAPPA_MAX = 1.0

Array = npt.NDArray[np.float64]


class FitError(ValueError):
    """The points cannot determine the model (too few, or not positive)."""


@dataclass(frozen=True, kw_only=True)
class Fit:
    model: str
    x1: float
    sigma: float
    kappa: float
    #: 1 − SS_res/SS_tot; None when every point has the same throughput.
    r_squared: float | None
    points: int

    def predict(self, instances: npt.ArrayLike) -> Array:
        n = np.asarray(instances, dtype=np.float64)
        return self.x1 * _shape(n, self.sigma, self.kappa)

    @property
    def peak_instances(self) -> float | None:
        """N* where throughput peaks, or None when it never turns down (κ ≈ 0)."""
        if self.kappa < KAPPA_NONE:
            return None
        return math.sqrt(max(0.0, 1.0 - self.sigma) / self.kappa)

    @property
    def peak_throughput(self) -> float | None:
        n = self.peak_instances
        return None if n is None else float(self.predict(n))

    @property
    def asymptote(self) -> float | None:
        """The throughput approached as N → ∞ when there is no peak: X1/σ (None if σ = 0)."""
        if self.peak_instances is not None or self.sigma <= 0.0:
            return None
        return self.x1 / self.sigma


def fit_amdahl(instances: npt.ArrayLike, throughput: npt.ArrayLike) -> Fit:
    n, x = _points(instances, throughput, needed=2)
    sigma, _, x1, sse = _search(n, x, kappa_range=None)
    return Fit(model="amdahl", x1=x1, sigma=sigma, kappa=0.0, r_squared=_r2(x, sse), points=len(n))


def fit_usl(instances: npt.ArrayLike, throughput: npt.ArrayLike) -> Fit:
    n, x = _points(instances, throughput, needed=3)
    sigma, kappa, x1, sse = _search(n, x, kappa_range=(0.0, _KAPPA_MAX))
    return Fit(model="usl", x1=x1, sigma=sigma, kappa=kappa, r_squared=_r2(x, sse), points=len(n))


def fit_models(instances: npt.ArrayLike, throughput: npt.ArrayLike) -> dict[str, Fit]:
    """Every model the points determine, by name: Amdahl from two instance counts, the USL
    from three; empty when even Amdahl cannot be fitted."""
    fits: dict[str, Fit] = {}
    for fitter in (fit_amdahl, fit_usl):
        try:
            fit = fitter(instances, throughput)
        except FitError:
            continue
        fits[fit.model] = fit
    return fits


def _points(
    instances: npt.ArrayLike, throughput: npt.ArrayLike, *, needed: int
) -> tuple[Array, Array]:
    n = np.asarray(instances, dtype=np.float64)
    x = np.asarray(throughput, dtype=np.float64)
    if n.shape != x.shape or n.ndim != 1:
        raise FitError("instances and throughput must be two lists of the same length")
    if len(set(n.tolist())) < needed:
        raise FitError(f"need throughput at {needed} or more different instance counts")
    if not (np.all(np.isfinite(n)) and np.all(np.isfinite(x))):
        raise FitError("instances and throughput must be finite numbers")
    if np.any(n < 1) or np.any(x <= 0):
        raise FitError("instance counts must be ≥ 1 and throughput positive")
    return n, x


def _shape(n: Array, sigma: npt.ArrayLike, kappa: npt.ArrayLike) -> Array:
    """X(N)/X1; broadcasts over grids of σ and κ."""
    s = np.asarray(sigma, dtype=np.float64)
    k = np.asarray(kappa, dtype=np.float64)
    result: Array = n / (1.0 + s * (n - 1.0) + k * n * (n - 1.0))
    return result


def _search(
    n: Array, x: Array, *, kappa_range: tuple[float, float] | None
) -> tuple[float, float, float, float]:
    """(σ, κ, X1, SS_res) minimising the squared throughput error: a coarse grid finds the
    basin, Levenberg-Marquardt walks its valley floor (σ and κ trade off along it)."""
    sigmas = np.linspace(0.0, 1.0, _GRID)
    # κ of real systems spans decades (1e-5 … 1e-1), so the grid is logarithmic.
    kappas = (
        np.zeros(1)
        if kappa_range is None
        else np.concatenate(([0.0], np.logspace(-7, math.log10(kappa_range[1]), _GRID - 1)))
    )
    s_grid, k_grid = np.meshgrid(sigmas, kappas, indexing="ij")
    g = _shape(n, s_grid[..., None], k_grid[..., None])
    x1 = (g @ x) / np.einsum("ijk,ijk->ij", g, g)
    sse = np.sum((x1[..., None] * g - x) ** 2, axis=-1)
    i, j = np.unravel_index(int(np.argmin(sse)), sse.shape)
    start = np.array([x1[i, j], sigmas[i], kappas[j]])
    upper = np.array([math.inf, 1.0, 0.0 if kappa_range is None else kappa_range[1]])
    best = _levenberg_marquardt(n, x, start, upper)
    return float(best[1]), float(best[2]), float(best[0]), _sse(n, x, best)


def _sse(n: Array, x: Array, p: Array) -> float:
    return float(np.sum((p[0] * _shape(n, p[1], p[2]) - x) ** 2))


def _levenberg_marquardt(n: Array, x: Array, p: Array, upper: Array) -> Array:
    """Least squares in (X1, σ, κ) from `p`, kept within [0, upper]."""
    free = upper > 0.0
    damping = 1e-3
    current = _sse(n, x, p)
    for _ in range(_ITERATIONS):
        d = 1.0 + p[1] * (n - 1.0) + p[2] * n * (n - 1.0)
        residual = x - p[0] * n / d
        jacobian = np.stack(
            [n / d, -p[0] * n * (n - 1.0) / d**2, -p[0] * n * n * (n - 1.0) / d**2], axis=1
        )[:, free]
        normal = jacobian.T @ jacobian
        gradient = jacobian.T @ residual
        improved = False
        while damping < 1e12:
            lhs = normal + damping * np.diag(np.maximum(np.diag(normal), 1e-300))
            step = np.zeros(3)
            try:
                step[free] = np.linalg.solve(lhs, gradient)
            except np.linalg.LinAlgError:
                damping *= 10.0
                continue
            trial = np.clip(p + step, 0.0, upper)
            trial_sse = _sse(n, x, trial)
            if trial_sse < current:
                improved = current - trial_sse > 1e-15 * max(current, 1e-300)
                p, current, damping = trial, trial_sse, max(damping / 10.0, 1e-12)
                break
            damping *= 10.0
        if not improved:
            break
    return p


def _r2(x: Array, sse: float) -> float | None:
    sst = float(np.sum((x - x.mean()) ** 2))
    return None if sst == 0.0 else 1.0 - sse / sst
