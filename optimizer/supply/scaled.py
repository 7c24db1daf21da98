"""The supply scaled to integers, which every formulation shares.

Amounts are scaled exactly (as :mod:`optimizer.problem` does for one dose) and
a dose's deviation is ``|common x total - target|`` in integers.  Each dose's
resolution (``resolution_pct`` of its target) is a whole number of these
units, rounded down: the supply's near set is every plan (meeting the most
doses) whose total deviation is within the sum of its own met doses'
resolutions of the least total deviation (:meth:`Scaled.slack`).  A *solution*
is, per dose, its vial counts per lot (None: the dose is not met).
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Sequence
from fractions import Fraction
from typing import Any

from optimizer import exact
from optimizer.inventory import Lot, with_count
from optimizer.problem import Mode, Problem, expiry_ranks

__all__ = ["Counts", "OutOfTime", "Scaled", "Solution"]


class OutOfTime(Exception):
    """The time limit ran out before a joint plan could be built: the sequential
    plan is the answer."""


Counts = tuple[int, ...]
Solution = list[Counts | None]


class Scaled:
    """The supply in integers: amounts, targets, windows, usable stock per dose."""

    def __init__(self, doses: Sequence[Any], lots: Sequence[Lot]) -> None:
        self.doses = list(doses)
        self.lots = list(lots)
        denominator = math.lcm(*(lot.amount.denominator for lot in lots)) if lots else 1
        integers = [int(lot.amount * denominator) for lot in lots]
        divisor = math.gcd(*integers) if integers else 1
        self.scale = Fraction(divisor, denominator)
        self.amounts = [a // divisor for a in integers]
        self.ranks = expiry_ranks(lots)
        targets = [dose.target / self.scale for dose in doses]
        self.common = math.lcm(*(t.denominator for t in targets))
        self.targets = [int(t * self.common) for t in targets]
        #: per dose, its resolution in these units, rounded down
        self.steps = [
            math.floor(t * dose.resolution_pct / 100)
            for t, dose in zip(self.targets, doses, strict=True)
        ]
        self.windows: list[tuple[int, int]] = []
        for dose, target in zip(doses, targets, strict=True):
            low, high = dose.tolerance.window(target)
            self.windows.append((math.ceil(low), math.floor(high)))
        counts = [lot.count for lot in lots]
        rows: dict[tuple[object, object], list[int]] = {}  # doses alike share one row
        self.limits = []
        for dose in doses:
            key = (dose.as_of, dose.lots)
            if key not in rows:
                rows[key] = (
                    counts
                    if dose.as_of is None and dose.lots is None
                    else [
                        lot.count if _usable(lot, dose.as_of) and dose.may_use(lot.lot) else 0
                        for lot in lots
                    ]
                )
            self.limits.append(rows[key])
        patients: dict[str, list[int]] = {}
        for d, dose in enumerate(doses):
            patients.setdefault(dose.patient or f"dose {d + 1}", []).append(d)
        self.patients = patients
        # the lots without their dates, and the shelves of single doses by stock
        self.plain = [Lot(lot.lot, lot.amount, lot.count) for lot in self.lots]
        self._shelves: dict[tuple[int, ...], Problem] = {}
        #: Each dose's own optimum, once known (None in it: not met even alone).
        self.alone: Solution | None = None
        self._caps: dict[int, int] | None = None

    def class_key(self, d: int) -> tuple[object, ...]:
        """Doses with equal keys are interchangeable: same amount, window, vial cap,
        patient and usable stock (dates that set the same lots aside are alike)."""
        dose = self.doses[d]
        return (
            dose.target,
            dose.tolerance,
            dose.max_vials,
            dose.patient,
            dose.resolution_pct,
            tuple(self.limits[d]),
        )

    def classes(self) -> list[list[int]]:
        """The doses grouped by :meth:`class_key`, in order of first appearance."""
        classes: dict[tuple[object, ...], list[int]] = {}
        for d in range(len(self.doses)):
            classes.setdefault(self.class_key(d), []).append(d)
        return list(classes.values())

    def total(self, counts: Counts) -> int:
        return sum(a * n for a, n in zip(self.amounts, counts, strict=True))

    def deviation(self, d: int, counts: Counts) -> int:
        return abs(self.common * self.total(counts) - self.targets[d])

    def slack(self, solution: Solution) -> int:
        """How far past the least total deviation a plan meeting these doses may
        go and still count as near: the sum of the met doses' resolutions."""
        return sum(self.steps[d] for d, c in enumerate(solution) if c is not None)

    def caps(self, deadline: float | None = None) -> dict[int, int]:
        """Each dose's own closest deviation (alone on its usable stock, every vial
        there) plus its resolution: the most it may deviate in the stricter near set
        (docs/design.md).  A dose that cannot be met alone, or whose shelf is too
        large for the exact table, has no cap; nor have the doses not reached by
        ``deadline`` (a :func:`time.monotonic` instant)."""
        if self._caps is None:
            caps: dict[int, int] = {}
            for d in range(len(self.doses)):
                if deadline is not None and time.monotonic() > deadline:
                    break
                problem = dataclasses.replace(self.single_dose(d), resolution=Fraction(0))
                answer = exact.solve(problem, Mode.WHOLE_VIALS)
                if answer is None or answer.counts is None:
                    continue
                chosen = dict(zip((lot.lot for lot in problem.lots), answer.counts, strict=True))
                counts = tuple(chosen.get(lot.lot, 0) for lot in self.lots)
                caps[d] = self.deviation(d, counts) + self.steps[d]
            self._caps = caps
        return self._caps

    def within_caps(self, solution: Solution) -> bool:
        """Whether every met dose with a cap is within it (:meth:`caps`); True when
        the caps were never worked out (the search ran out of time before)."""
        if self._caps is None:
            return True
        caps = self._caps
        return all(
            self.deviation(d, c) <= caps[d]
            for d, c in enumerate(solution)
            if c is not None and d in caps
        )

    def widest_slack(self, met: int) -> int:
        """The most slack any plan meeting ``met`` doses can have."""
        return sum(sorted(self.steps, reverse=True)[:met])

    def deviation_weight(self) -> int:
        """More than any total deviation: one dose met outweighs every deviation."""
        return 1 + sum(
            max(abs(self.common * low - t), abs(self.common * high - t))
            for (low, high), t in zip(self.windows, self.targets, strict=True)
        )

    def weights(self) -> tuple[int, int]:
        """(vials, lots) weights of the last stage: vials, then lots, then expiry."""
        most_vials = sum(lot.count for lot in self.lots)
        w_lots = most_vials * max(self.ranks, default=0) + 1
        w_vials = (len(self.patients) * len(self.lots) + 1) * w_lots
        return w_vials, w_lots

    def evaluate(self, stage: int, solution: Solution) -> int:
        """A stage's objective for a solution."""
        met = [(d, c) for d, c in enumerate(solution) if c is not None]
        if stage == 0:
            return -len(met)
        if stage == 1:
            return sum(self.deviation(d, c) for d, c in met)
        # lots each patient uses: the union of their doses' lots, counted once
        lots_used = 0
        for members in self.patients.values():
            used: set[int] = set()
            for d in members:
                used.update(i for i, n in enumerate(solution[d] or ()) if n)
            lots_used += len(used)
        expiry = sum(r * n for _, c in met for r, n in zip(self.ranks, c, strict=True))
        w_vials, w_lots = self.weights()
        return sum(sum(c) for _, c in met) * w_vials + lots_used * w_lots + expiry

    def describe(self, stage: int, value: int, solution: Solution) -> str:
        """A stage's value in words (the last stage combines three objectives)."""
        if stage == 0:
            return f"{-value} of {len(self.doses)} doses met"
        if stage == 1:
            deviation = Fraction(value, self.common) * self.scale
            return f"total deviation {float(deviation):,.6g}"
        w_vials, w_lots = self.weights()
        combined = self.evaluate(2, solution)
        return (
            f"{combined // w_vials} vials, {combined % w_vials // w_lots} lots summed over "
            f"patients, expiry cost {combined % w_lots}"
        )

    def describe_bound(self, stage: int, bound: int) -> str:
        """A stage's lower bound in words (the last stage: its vials part, which
        the weights make a lower bound of the vials)."""
        if stage == 0:
            return f"at most {-bound} of {len(self.doses)} doses can be met"
        if stage == 1:
            deviation = Fraction(bound, self.common) * self.scale
            return f"total deviation at least {float(deviation):,.6g}"
        w_vials, _ = self.weights()
        return f"at least {bound // w_vials} vials"

    def single_dose(self, d: int) -> Problem:
        """Dose ``d`` alone on its usable stock (no expiry: only whether it can be met
        matters here).  Doses with the same usable stock share one scaled shelf."""
        dose = self.doses[d]
        key = tuple(self.limits[d])
        base = self._shelves.get(key)
        if base is None:
            shelf = [with_count(lot, n) for lot, n in zip(self.plain, key, strict=True)]
            base = Problem.build(dose.target, shelf, dose.tolerance, dose.max_vials)
            self._shelves[key] = base
        return base.retarget(dose.target, dose.tolerance, dose.max_vials, dose.resolution_pct)


def _usable(lot: Lot, as_of: Any) -> bool:
    return as_of is None or lot.expires is None or lot.expires >= as_of
