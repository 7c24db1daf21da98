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

from dosing.pk.curves import Disposition, Regimen, steady_state

__all__ = [
    "GRID_H",
    "WEEKDAYS",
    "Option",
    "best_regimen",
    "hours_above",
    "hours_above_each",
    "least_for_hours",
    "trough",
]

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
#: Resolution of time above a level (h).
GRID_H = 0.01
#: How far before a dose the trough is read (h): the level just before it.
_JUST_BEFORE = 1e-9


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
    every_h: float | None = None, weekdays: Sequence[str] = (), duration: float = 0.0
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
