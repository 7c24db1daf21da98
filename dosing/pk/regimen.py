"""PK-aware dosing: the regimen with the least factor per week that keeps the
steady-state trough at or above a target, for the patient's own (or the
typical) parameters.

Levels are linear in the dose, so for each candidate schedule (every N hours,
or on given weekdays) the least dose meeting the target comes in closed form:
``amount = (target - baseline) / trough_per_unit``.  The schedules are then
compared by dose per week.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from dosing.pk.curves import Disposition, Regimen, steady_state, steady_state_many

__all__ = [
    "GRID_H",
    "WEEKDAYS",
    "Option",
    "best_regimen",
    "hours_above",
    "hours_above_each",
    "hours_above_many",
    "least_for_hours",
    "trough",
    "troughs_many",
]

FloatArray = NDArray[np.float64]
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
#: Resolution of time above a level (h).
GRID_H = 0.01
#: How far before a dose the trough is read (h): the level just before it.
_JUST_BEFORE = 1e-9
#: Cells of :func:`hours_above_many` (h), and how far inside a cell its ends are read.
CELL_H = 0.25
_JUST_INSIDE = 1e-9


def trough(model: Disposition, regimen: Regimen, baseline: float = 0.0) -> float:
    """The lowest level just before any dose of the period, at steady state."""
    times = np.mod(np.array(regimen.offsets) - _JUST_BEFORE, regimen.period)
    return float(np.min(steady_state(model, regimen, times, baseline)))


@dataclass(frozen=True)
class Option:
    """One schedule with the least dose meeting the target."""

    label: str
    regimen: Regimen
    trough: float

    @property
    def per_week(self) -> float:
        return self.regimen.per_week


def schedule(
    every_h: float | None = None, weekdays: Sequence[str] = ()
) -> tuple[str, float, tuple[float, ...]]:
    """(label, period, offsets) of 'every N hours' or 'on these weekdays'."""
    if weekdays:
        days = sorted({WEEKDAYS.index(d) for d in weekdays})
        return ("on " + ", ".join(WEEKDAYS[d].capitalize() for d in days), 168.0,
                tuple(24.0 * d for d in days))  # fmt: skip
    assert every_h is not None
    return (f"every {every_h:g} h", float(every_h), (0.0,))


def best_regimen(
    model: Disposition,
    target: float,
    schedules: Sequence[tuple[str, float, tuple[float, ...]]],
    *,
    baseline: float = 0.0,
    duration: float = 0.0,
) -> list[Option]:
    """Every schedule with the least dose whose steady-state trough is at least
    ``target``, the least dose per week first."""
    options = []
    for label, period, offsets in schedules:
        unit = Regimen(1.0, period, offsets, duration)
        per_unit = trough(model, unit, 0.0)
        amount = max(target - baseline, 0.0) / per_unit
        regimen = Regimen(amount, period, offsets, duration)
        options.append(Option(label, regimen, trough(model, regimen, baseline)))
    return sorted(options, key=lambda o: (o.per_week, o.regimen.period))


def hours_above(model: Disposition, regimen: Regimen, level: float, baseline: float = 0.0) -> float:
    """Hours per week the steady-state level is at or above ``level`` (to 0.01 h)."""
    return hours_above_each(model, regimen, (level,), baseline)[0]


def hours_above_each(
    model: Disposition, regimen: Regimen, levels: Sequence[float], baseline: float = 0.0
) -> list[float]:
    """:func:`hours_above` for several levels, from one pass over the period."""
    values = steady_state(model, regimen, np.arange(0, regimen.period, GRID_H), baseline)
    return [
        int(np.count_nonzero(values >= level)) * GRID_H * 168 / regimen.period for level in levels
    ]


def hours_above_many(
    models: Sequence[Disposition], regimen: Regimen, level: float, baseline: float = 0.0
) -> FloatArray:
    """Hours per week at or above ``level`` for each of many dispositions (the
    draws of a fit), at once.  The period is cut into cells of at most
    ``CELL_H`` (a tenth of an infusion while one runs), each cell's ends read
    just inside it (a bolus jumps at its dose), and the time above within a
    cell taken where the straight line between its ends crosses the level:
    exact to well under a minute for curves that bend over hours."""
    coefficients, rates = _stacked(models)
    edges = [np.arange(0.0, regimen.period, CELL_H), np.array([regimen.period])]
    for offset in regimen.offsets:
        edges.append(np.array([offset]))
        if regimen.duration > 0:
            edges.append(offset + np.linspace(0.0, regimen.duration, 11))
    cuts = np.unique(np.concatenate(edges))
    starts, ends = cuts[:-1], cuts[1:]
    inside = np.minimum(_JUST_INSIDE, (ends - starts) / 4)
    left = steady_state_many(coefficients, rates, regimen, starts + inside, baseline) - level
    right = steady_state_many(coefficients, rates, regimen, ends - inside, baseline) - level
    width = ends - starts
    with np.errstate(divide="ignore", invalid="ignore"):
        crossing = np.where(left >= 0, left, right) / np.abs(left - right)
    share = np.where(
        (left >= 0) & (right >= 0), 1.0, np.where((left < 0) & (right < 0), 0.0, crossing)
    )
    return np.asarray(np.sum(share * width, axis=1) * 168 / regimen.period, dtype=np.float64)


def troughs_many(
    models: Sequence[Disposition], regimen: Regimen, baseline: float = 0.0
) -> FloatArray:
    """:func:`trough` for each of many dispositions, at once."""
    times = np.mod(np.array(regimen.offsets) - _JUST_BEFORE, regimen.period)
    levels = steady_state_many(*_stacked(models), regimen, times, baseline)
    return np.asarray(np.min(levels, axis=1), dtype=np.float64)


def _stacked(models: Sequence[Disposition]) -> tuple[FloatArray, FloatArray]:
    """Coefficients and rates as (n, terms) arrays (a missing term: coefficient 0)."""
    terms = max(len(m.rates) for m in models)
    coefficients = np.zeros((len(models), terms))
    rates = np.ones((len(models), terms))
    for i, m in enumerate(models):
        coefficients[i, : len(m.rates)] = m.coefficients
        rates[i, : len(m.rates)] = m.rates
    return coefficients, rates


def least_for_hours(
    model: Disposition,
    level: float,
    hours: float,
    schedules: Sequence[tuple[str, float, tuple[float, ...]]],
    *,
    baseline: float = 0.0,
    duration: float = 0.0,
) -> list[Option]:
    """Every schedule with the least dose keeping the level at or above ``level``
    for ``hours`` a week (bisection: time above grows with the dose), least per
    week first.  The dose whose trough is ``level`` bounds it: above all week."""
    options = []
    for label, period, offsets in schedules:
        unit = Regimen(1.0, period, offsets, duration)
        high = max(level - baseline, 0.0) / trough(model, unit, 0.0)
        low = 0.0
        for _ in range(60):  # to a relative width far below a vial
            middle = (low + high) / 2
            dosed = Regimen(middle, period, offsets, duration)
            if hours_above(model, dosed, level, baseline) >= hours:
                high = middle
            else:
                low = middle
        regimen = Regimen(high, period, offsets, duration)
        options.append(Option(label, regimen, trough(model, regimen, baseline)))
    return sorted(options, key=lambda o: (o.per_week, o.regimen.period))
