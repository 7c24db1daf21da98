"""Factor levels over time: closed-form one- and two-compartment solutions for
an IV bolus or a short infusion, superposed over a dose history, and the
steady state of a repeating regimen.

A model's disposition is a sum of exponentials: after a unit bolus the level
is ``sum(c_i * exp(-lam_i * t))`` (one term for one compartment, two for two).
Everything here is built on that form, so both models share one code path:

* one compartment (CL, V): ``c = 1/V``, ``lam = CL/V``;
* two compartments (CL, V1, Q, V2): ``k10 = CL/V1``, ``k12 = Q/V1``,
  ``k21 = Q/V2``; ``alpha`` and ``beta`` are the roots of
  ``s^2 - (k10+k12+k21) s + k10 k21``; ``c = ((alpha-k21), (k21-beta)) /
  (V1 (alpha-beta))``.

An infusion of dose D over T hours is the bolus response integrated over the
infusion: during it ``sum(R c_i/lam_i (1 - e^{-lam_i t}))``, after it
``sum(R c_i/lam_i (e^{lam_i T} - 1) e^{-lam_i t})`` with ``R = D/T``.  Levels
are in the dose's unit per volume unit (IU per dL is IU/dL, the % of normal).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "Disposition",
    "Dose",
    "Regimen",
    "level",
    "one_compartment",
    "steady_state",
    "steady_state_many",
    "two_compartment",
]

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class Disposition:
    """The unit-bolus response: ``sum(coefficients * exp(-rates * t))``."""

    coefficients: tuple[float, ...]
    rates: tuple[float, ...]  # per hour, > 0

    @property
    def terminal_half_life(self) -> float:
        """Hours: ln 2 over the smallest rate."""
        return math.log(2) / min(self.rates)


def one_compartment(cl: float, v: float) -> Disposition:
    """Clearance ``cl`` (volume/h) and volume ``v``."""
    if not (cl > 0 and v > 0 and math.isfinite(cl) and math.isfinite(v)):
        raise ValueError("clearance and volume must be finite and > 0")
    return Disposition((1 / v,), (cl / v,))


def two_compartment(cl: float, v1: float, q: float, v2: float) -> Disposition:
    """Clearance, central volume, intercompartmental clearance, peripheral volume."""
    values = (cl, v1, q, v2)
    if not all(x > 0 and math.isfinite(x) for x in values):
        raise ValueError("clearances and volumes must be finite and > 0")
    k10, k12, k21 = cl / v1, q / v1, q / v2
    total = k10 + k12 + k21
    root = math.sqrt(total * total - 4 * k10 * k21)
    alpha, beta = (total + root) / 2, (total - root) / 2
    # beta from the product of the roots: exact where total ~ root (no cancellation)
    beta = k10 * k21 / alpha
    spread = alpha - beta
    return Disposition(((alpha - k21) / (v1 * spread), (k21 - beta) / (v1 * spread)), (alpha, beta))


@dataclass(frozen=True)
class Dose:
    """``amount`` (IU) starting at ``time`` (h), infused over ``duration`` h (0: bolus)."""

    time: float
    amount: float
    duration: float = 0.0


def _response(model: Disposition, amount: float, duration: float, since: FloatArray) -> FloatArray:
    """The level ``since`` hours after one dose started (0 before it)."""
    out = np.zeros_like(since)
    started = since >= 0
    if not started.any():
        return out
    t = since[started]
    values = np.zeros_like(t)
    for c, lam in zip(model.coefficients, model.rates, strict=True):
        if duration <= 0:
            values += amount * c * np.exp(-lam * t)
            continue
        rate = amount / duration
        during = t < duration
        # -expm1 keeps (1 - e^{-x}) exact for the small x of a short infusion
        values += np.where(
            during,
            rate * c / lam * -np.expm1(-lam * np.minimum(t, duration)),
            rate * c / lam * np.expm1(lam * duration) * np.exp(-lam * t),
        )
    out[started] = values
    return out


def level(
    model: Disposition,
    doses: Sequence[Dose],
    times: Sequence[float] | FloatArray,
    baseline: float = 0.0,
) -> FloatArray:
    """The level at ``times`` after ``doses`` (superposed), plus ``baseline``."""
    at = np.asarray(times, dtype=float)
    total = np.full_like(at, baseline)
    for dose in doses:
        total += _response(model, dose.amount, dose.duration, at - dose.time)
    return total


@dataclass(frozen=True)
class Regimen:
    """A dose repeated: ``amount`` at each of ``offsets`` (h) within every
    ``period`` hours (every N hours: one offset 0, period N; on Monday and
    Thursday: offsets 0 and 72, period 168), each infused over ``duration`` h."""

    amount: float
    period: float
    offsets: tuple[float, ...] = (0.0,)
    duration: float = 0.0

    def __post_init__(self) -> None:
        if not self.period > 0 or not self.offsets:
            raise ValueError("a regimen needs a period > 0 and at least one dose in it")
        if any(not 0 <= o < self.period for o in self.offsets):
            raise ValueError("dose offsets must lie within the period")
        gaps = np.diff([*sorted(self.offsets), min(self.offsets) + self.period])
        if self.duration >= float(np.min(gaps)):
            raise ValueError("an infusion must end before the next dose starts")

    @property
    def per_week(self) -> float:
        """Dose per week (168 h)."""
        return self.amount * len(self.offsets) * 168 / self.period


def steady_state(
    model: Disposition,
    regimen: Regimen,
    times: Sequence[float] | FloatArray,
    baseline: float = 0.0,
) -> FloatArray:
    """The level at ``times`` (h within the period, 0 <= t < period) once the
    regimen has run forever: each dose of the period, and all its repeats
    before, in closed form (a geometric series per exponential)."""
    at = np.asarray(times, dtype=float)
    total = np.full_like(at, baseline)
    period, duration = regimen.period, regimen.duration
    for offset in regimen.offsets:
        since = np.mod(at - offset, period)  # time since this dose's latest start
        # the latest start's own response (during or after its infusion) ...
        total += _response(model, regimen.amount, duration, since)
        # ... and every earlier repeat, all after their infusions: a geometric series
        for c, lam in zip(model.coefficients, model.rates, strict=True):
            if duration <= 0:
                scale = regimen.amount * c
            else:
                scale = regimen.amount / duration * c / lam * math.expm1(lam * duration)
            total += scale * np.exp(-lam * (since + period)) / -math.expm1(-lam * period)
    return total


def steady_state_many(
    coefficients: FloatArray,
    rates: FloatArray,
    regimen: Regimen,
    times: FloatArray,
    baseline: float = 0.0,
) -> FloatArray:
    """:func:`steady_state` for many dispositions at once (rows of
    ``coefficients`` and ``rates``, shape (n, terms)): levels of shape
    (n, len(times)), for the draws of an uncertain fit."""
    at = np.asarray(times, dtype=float)[None, :]
    total = np.full((coefficients.shape[0], at.shape[1]), baseline, dtype=float)
    amount, period, duration = regimen.amount, regimen.period, regimen.duration
    for offset in regimen.offsets:
        since = np.mod(at - offset, period)
        for k in range(coefficients.shape[1]):
            c, lam = coefficients[:, k : k + 1], rates[:, k : k + 1]
            if duration <= 0:
                latest = amount * c * np.exp(-lam * since)
                scale = amount * c
            else:
                rate = amount / duration
                latest = np.where(
                    since < duration,
                    rate * c / lam * -np.expm1(-lam * np.minimum(since, duration)),
                    rate * c / lam * np.expm1(lam * duration) * np.exp(-lam * since),
                )
                scale = rate * c / lam * np.expm1(lam * duration)
            total += latest + scale * np.exp(-lam * (since + period)) / -np.expm1(-lam * period)
    return total
