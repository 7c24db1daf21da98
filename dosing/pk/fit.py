"""The patient's own pharmacokinetics from a few measured levels: the maximum a
posteriori (MAP) estimate of the between-subject effects ``eta``.

The objective is minus the log posterior: for each measured level
``(y - f)^2 / (2 s^2) + ln s`` with ``s`` the combined residual SD at the
prediction ``f``; for a level reported below the assay's limit of
quantitation (LLOQ), ``-ln Phi((LLOQ - f) / s)``, the probability that it lay
below (Beal's M3 method); and the prior ``eta' Omega^-1 eta / 2``.  The
uncertainty of the estimate is Laplace's: a normal with the inverse Hessian of
the objective at the optimum as its covariance, from which the predicted
trough's 90% interval and the probability of meeting a target are sampled.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import optimize, stats

from dosing.pk.curves import Dose, level
from dosing.pk.models import PopulationModel

__all__ = ["Fit", "Level", "Predictor", "fit", "objective"]

FloatArray = NDArray[np.float64]
#: Draws from the Laplace approximation for intervals (fixed seed: reproducible).
DRAWS = 2000
SEED = 20200605


@dataclass(frozen=True)
class Level:
    """A measured level (IU/dL) ``time`` hours into the dose history, or, with
    ``below`` set, a result below that limit of quantitation."""

    time: float
    value: float | None = None
    below: float | None = None


@dataclass(frozen=True)
class Fit:
    eta: FloatArray
    covariance: FloatArray  # of eta, Laplace
    parameters: dict[str, float]
    objective: float
    converged: bool

    def draws(self, count: int = DRAWS) -> FloatArray:
        """Samples of eta from the Laplace approximation (fixed seed)."""
        rng = np.random.default_rng(SEED)
        return rng.multivariate_normal(self.eta, self.covariance, size=count)


Predictor = Callable[[Mapping[str, float], Sequence[Dose], FloatArray], FloatArray]


def objective(
    model: PopulationModel,
    covariates: Mapping[str, float],
    doses: Sequence[Dose],
    levels: Sequence[Level],
    predictor: Predictor | None = None,
) -> Callable[[FloatArray], float]:
    """Minus the log posterior of ``eta`` (constants dropped).  ``predictor``
    (parameters, doses, times -> levels) replaces the closed form, for
    cross-checks and benchmarks."""
    precision = np.linalg.inv(model.omega)
    times = np.array([x.time for x in levels], dtype=float)
    measured = np.array([np.nan if x.value is None else x.value for x in levels])
    limits = np.array([np.nan if x.below is None else x.below for x in levels])
    censored = ~np.isnan(limits)

    def value(eta: FloatArray) -> float:
        parameters = model.parameters(covariates, eta)
        if predictor is None:
            predicted = level(model.disposition(parameters), doses, times, model.baseline)
        else:
            predicted = predictor(parameters, doses, times) + model.baseline
        sd = model.residual_sd(predicted)
        total = 0.5 * float(eta @ precision @ eta)
        seen = ~censored
        if seen.any():
            z = (measured[seen] - predicted[seen]) / sd[seen]
            total += float(np.sum(0.5 * z * z + np.log(sd[seen])))
        if censored.any():
            below = stats.norm.logcdf((limits[censored] - predicted[censored]) / sd[censored])
            total -= float(np.sum(below))
        return total

    return value


def fit(
    model: PopulationModel,
    covariates: Mapping[str, float],
    doses: Sequence[Dose],
    levels: Sequence[Level],
    predictor: Predictor | None = None,
) -> Fit:
    """The MAP estimate and its Laplace covariance."""
    f = objective(model, covariates, doses, levels, predictor)
    start = np.zeros(len(model.varying))
    found = optimize.minimize(f, start, method="BFGS", options={"gtol": 1e-6})
    eta = np.asarray(found.x, dtype=float)
    hessian = _hessian(f, eta)
    # BFGS may stop on precision loss at the optimum: what counts is a flat gradient
    gradient = optimize.approx_fprime(eta, f, 1e-7)
    converged = bool(found.success) or float(np.max(np.abs(gradient))) < 1e-3
    try:
        covariance = np.asarray(np.linalg.inv(hessian), dtype=np.float64)
        np.linalg.cholesky(covariance)
    except np.linalg.LinAlgError:  # flat or saddle: fall back on the prior's spread
        covariance = model.omega.copy()
    return Fit(
        eta=eta,
        covariance=covariance,
        parameters=model.parameters(covariates, eta),
        objective=float(found.fun),
        converged=converged,
    )


def _hessian(f: Callable[[FloatArray], float], x: FloatArray, step: float = 1e-4) -> FloatArray:
    """Central second differences."""
    n = len(x)
    h = np.zeros((n, n))
    for i in range(n):
        for j in range(i, n):
            e_i = np.eye(n)[i] * step
            e_j = np.eye(n)[j] * step
            h[i, j] = h[j, i] = (
                f(x + e_i + e_j) - f(x + e_i - e_j) - f(x - e_i + e_j) + f(x - e_i - e_j)
            ) / (4 * step * step)
    return h
