"""Two CP-SAT formulations behind :func:`optimizer.supply.plan_supply`, and
the supply scaled to integers (:class:`Scaled`), which all formulations share
(the third, column generation, is :mod:`optimizer.supply_columns`).

Both scale amounts to integers exactly (as :mod:`optimizer.problem` does) and
measure a dose's deviation as ``|common x total - target|`` in integers.  Both
expose the same small interface: ``model`` (the ``CpModel``), ``objective(stage)``,
``hint(solution)``, ``read(solver)`` and ``evaluate(stage, solution)``, where a
solution is, per dose, its vial counts per lot (None: dose not met).

:class:`PatternModel` (few classes of identical doses, few enough patterns)
    Doses that are interchangeable (same amount, window, vial cap, patient and
    usable stock) form a class.  Every selection that puts one dose of a class in its window
    (a *pattern*: vial counts per lot) is enumerated; ``y[c][p]`` counts the
    doses of class ``c`` made with pattern ``p``.  Identical doses are then
    indistinguishable in the model, so no symmetric solutions exist, and the
    linear relaxation is the strong cutting-stock bound: small supplies (a
    patient's month) are proven optimal quickly.

:class:`VialModel` (on request, and for supplies in which no dose can be met)
    ``x[d][l]`` vials of lot ``l`` for dose ``d``.  Each dose's total is
    restricted to the totals its usable stock can reach in its window (the
    exact dynamic program of :mod:`optimizer.exact`), and its deviation is
    bounded below by its own single-dose optimum.  On large supplies its
    bound stays near that sum of single-dose optima (a 200-dose day: 12%
    below the plan it finds in 30 s), which is why column generation
    replaced it there.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from fractions import Fraction
from typing import Any

from optimizer import exact
from optimizer.inventory import Lot
from optimizer.problem import Mode, Problem, expiry_ranks

__all__ = ["MAX_PATTERNS", "PatternModel", "Scaled", "VialModel", "enumerate_patterns"]

#: Above this many patterns in all, the vial model is used instead.
MAX_PATTERNS = 60_000

Counts = tuple[int, ...]
Solution = list[Counts | None]


class _TooMany(Exception):
    pass


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
        self.windows: list[tuple[int, int]] = []
        for dose, target in zip(doses, targets, strict=True):
            low, high = dose.tolerance.window(target)
            self.windows.append((math.ceil(low), math.floor(high)))
        self.limits = [
            [lot.count if _usable(lot, dose.as_of) else 0 for lot in lots] for dose in doses
        ]
        patients: dict[str, list[int]] = {}
        for d, dose in enumerate(doses):
            patients.setdefault(dose.patient or f"dose {d + 1}", []).append(d)
        self.patients = patients

    def class_key(self, d: int) -> tuple[object, ...]:
        """Doses with equal keys are interchangeable: same amount, window, vial cap,
        patient and usable stock (dates that set the same lots aside are alike)."""
        dose = self.doses[d]
        return (dose.target, dose.tolerance, dose.max_vials, dose.patient, tuple(self.limits[d]))

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
        rows = [c or (0,) * len(self.lots) for c in solution]
        lots_used = sum(
            1
            for members in self.patients.values()
            for i in range(len(self.lots))
            if any(rows[d][i] for d in members)
        )
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
        dose = self.doses[d]
        shelf = [
            Lot(lot.lot, lot.amount, n) for lot, n in zip(self.lots, self.limits[d], strict=True)
        ]
        return Problem.build(dose.target, shelf, dose.tolerance, dose.max_vials)


def _usable(lot: Lot, as_of: Any) -> bool:
    return as_of is None or lot.expires is None or lot.expires >= as_of


def enumerate_patterns(
    amounts: Sequence[int],
    limits: Sequence[int],
    low: int,
    high: int,
    max_vials: int | None,
    cap: int,
) -> list[Counts] | None:
    """Every count vector with ``low <= total <= high`` (None past ``cap`` of them).

    Depth-first over the lots, largest amount first, pruning totals over
    ``high`` and branches that cannot reach ``low`` any more.
    """
    n = len(amounts)
    order = sorted(range(n), key=lambda i: -amounts[i])
    a = [amounts[i] for i in order]
    c = [limits[i] for i in order]
    reach = [0] * (n + 1)
    for i in range(n - 1, -1, -1):
        reach[i] = reach[i + 1] + a[i] * c[i]
    vial_cap = max_vials if max_vials is not None else sum(c)
    found: list[Counts] = []
    counts = [0] * n

    def walk(i: int, total: int, vials: int) -> None:
        if total + reach[i] < low:
            return
        if i == n:
            found.append(tuple(counts))
            if len(found) > cap:
                raise _TooMany
            return
        most = min(c[i], (high - total) // a[i], vial_cap - vials)
        for k in range(most, -1, -1):
            counts[i] = k
            walk(i + 1, total + k * a[i], vials + k)
        counts[i] = 0

    try:
        walk(0, 0, 0)
    except _TooMany:
        return None
    back = [0] * n
    result = []
    for pattern in found:
        for position, lot_index in enumerate(order):
            back[lot_index] = pattern[position]
        result.append(tuple(back))
    return result


class PatternModel:
    """Identical doses as classes, selections as enumerated patterns."""

    @classmethod
    def build(cls, scaled: Scaled) -> PatternModel | None:
        classes = scaled.classes()
        patterns: list[list[Counts]] = []
        budget = MAX_PATTERNS
        for members in classes:
            d = members[0]
            low, high = scaled.windows[d]
            found = enumerate_patterns(
                scaled.amounts,
                scaled.limits[d],
                max(low, 1),
                high,
                scaled.doses[d].max_vials,
                budget,
            )
            budget -= len(found) if found is not None else budget + 1
            if found is None or budget < 0:
                return None
            patterns.append(found)
        return cls(scaled, classes, patterns)

    def __init__(
        self, scaled: Scaled, classes: list[list[int]], patterns: list[list[Counts]]
    ) -> None:
        from ortools.sat.python import cp_model

        self.scaled = scaled
        self.classes = classes
        self.patterns = patterns
        self.index = [{p: i for i, p in enumerate(found)} for found in patterns]
        model = cp_model.CpModel()
        self.model = model
        self.y = [
            [model.new_int_var(0, len(members), f"y{c}_{i}") for i in range(len(found))]
            for c, (members, found) in enumerate(zip(classes, patterns, strict=True))
        ]
        for members, ys in zip(classes, self.y, strict=True):
            model.add(sum(ys) <= len(members))
        lots = scaled.lots
        usage: list[list[Any]] = [[] for _ in lots]
        for found, ys in zip(patterns, self.y, strict=True):
            for pattern, y in zip(found, ys, strict=True):
                for i, n in enumerate(pattern):
                    if n:
                        usage[i].append(n * y)
        for i, lot in enumerate(lots):
            if usage[i]:
                model.add(sum(usage[i]) <= lot.count)
        met = sum(y for ys in self.y for y in ys)
        deviation = sum(
            scaled.deviation(members[0], p) * y
            for members, found, ys in zip(classes, patterns, self.y, strict=True)
            for p, y in zip(found, ys, strict=True)
        )
        vials = sum(
            sum(p) * y
            for found, ys in zip(patterns, self.y, strict=True)
            for p, y in zip(found, ys, strict=True)
        )
        expiry = sum(
            sum(r * n for r, n in zip(scaled.ranks, p, strict=True)) * y
            for found, ys in zip(patterns, self.y, strict=True)
            for p, y in zip(found, ys, strict=True)
        )
        patient_of = {d: name for name, members in scaled.patients.items() for d in members}
        lots_used = []
        for name in scaled.patients:
            for i, lot in enumerate(lots):
                terms = [
                    p[i] * y
                    for members, found, ys in zip(classes, patterns, self.y, strict=True)
                    if patient_of[members[0]] == name
                    for p, y in zip(found, ys, strict=True)
                    if p[i]
                ]
                if terms:
                    used = model.new_bool_var(f"used_{name}_{i}")
                    model.add(sum(terms) <= lot.count * used)
                    lots_used.append(used)
        w_vials, w_lots = scaled.weights()
        self.objectives = [-met, deviation, vials * w_vials + sum(lots_used) * w_lots + expiry]

    def objective(self, stage: int) -> Any:
        return self.objectives[stage]

    def fix_met(self, possible: list[int]) -> None:
        """Stage 0 proved that exactly the doses that can be met alone are met: every
        dose of their classes gets a pattern (classes share usable stock, so a
        class is possible whole or not at all)."""
        chosen = set(possible)
        for members, ys in zip(self.classes, self.y, strict=True):
            self.model.add(sum(ys) == (len(members) if members[0] in chosen else 0))

    def hint(self, solution: Solution) -> None:
        """Start the search from ``solution`` (an empty one: no start)."""
        self.model.clear_hints()  # type: ignore[no-untyped-call]
        if not solution:
            return
        for c, members in enumerate(self.classes):
            tally: dict[int, int] = {}
            for d in members:
                counts = solution[d]
                if counts is not None and counts in self.index[c]:
                    key = self.index[c][counts]
                    tally[key] = tally.get(key, 0) + 1
            for i, y in enumerate(self.y[c]):
                self.model.add_hint(y, tally.get(i, 0))

    def read(self, solver: Any) -> Solution:
        solution: Solution = [None] * len(self.scaled.doses)
        for members, found, ys in zip(self.classes, self.patterns, self.y, strict=True):
            chosen = [p for p, y in zip(found, ys, strict=True) for _ in range(solver.value(y))]
            chosen.sort(
                key=lambda p: (sum(r * n for r, n in zip(self.scaled.ranks, p, strict=True)), p)
            )
            for d, pattern in zip(members, chosen, strict=False):
                solution[d] = pattern
        return solution


class VialModel:
    """Vials per dose and lot (large supplies)."""

    def __init__(self, scaled: Scaled) -> None:
        from ortools.sat.python import cp_model

        self.scaled = scaled
        model = cp_model.CpModel()
        self.model = model
        lots = scaled.lots
        self.x: list[list[Any]] = []
        self.met: list[Any] = []
        deviations = []
        for d, dose in enumerate(scaled.doses):
            row = [model.new_int_var(0, n, f"x{d}_{i}") for i, n in enumerate(scaled.limits[d])]
            self.x.append(row)
            met = model.new_bool_var(f"met{d}")
            self.met.append(met)
            if dose.max_vials is not None:
                model.add(sum(row) <= dose.max_vials)
            total = sum(a * v for a, v in zip(scaled.amounts, row, strict=True))
            low, high = scaled.windows[d]
            model.add(total >= max(low, 1)).only_enforce_if(met)
            model.add(total <= high).only_enforce_if(met)
            model.add(total == 0).only_enforce_if(~met)
            problem = scaled.single_dose(d)
            reachable = exact.window_totals(problem)
            if reachable is not None:
                ratio = problem.scale / scaled.scale
                values = [0] + [int(t * ratio) for t in reachable]
                model.add_linear_expression_in_domain(total, cp_model.Domain.from_values(values))
            best = exact.solve(problem, Mode.WHOLE_VIALS)
            floor = 0
            if best is not None and best.counts is not None:
                alone = tuple(
                    dict(zip((lot.lot for lot in problem.lots), best.counts, strict=True)).get(
                        lot.lot, 0
                    )
                    for lot in lots
                )
                floor = scaled.deviation(d, alone)
            ceiling = max(scaled.targets[d], scaled.common * (high + 1))
            dev = model.new_int_var(0, ceiling, f"dev{d}")
            gap = scaled.common * total - scaled.targets[d]
            model.add(dev >= gap).only_enforce_if(met)
            model.add(dev >= -gap).only_enforce_if(met)
            model.add(dev >= floor).only_enforce_if(met)  # its own single-dose optimum
            model.add(dev == 0).only_enforce_if(~met)
            deviations.append(dev)
        for i, lot in enumerate(lots):
            model.add(sum(row[i] for row in self.x) <= lot.count)
        lots_used = []
        for name, members in scaled.patients.items():
            for i, lot in enumerate(lots):
                used = model.new_bool_var(f"used_{name}_{i}")
                model.add(sum(self.x[d][i] for d in members) <= lot.count * used)
                lots_used.append(used)
        for d in range(1, len(scaled.doses)):  # identical doses: order their totals
            if scaled.class_key(d) == scaled.class_key(d - 1):
                model.add(
                    sum(a * v for a, v in zip(scaled.amounts, self.x[d - 1], strict=True))
                    <= sum(a * v for a, v in zip(scaled.amounts, self.x[d], strict=True))
                )
        w_vials, w_lots = scaled.weights()
        vials = sum(v for row in self.x for v in row)
        expiry = sum(r * v for row in self.x for r, v in zip(scaled.ranks, row, strict=True))
        self.objectives = [
            -sum(self.met),
            sum(deviations),
            vials * w_vials + sum(lots_used) * w_lots + expiry,
        ]

    def objective(self, stage: int) -> Any:
        return self.objectives[stage]

    def hint(self, solution: Solution) -> None:
        """Start the search from ``solution`` (an empty one: no start)."""
        self.model.clear_hints()  # type: ignore[no-untyped-call]
        if not solution:
            return
        for row, met, counts in zip(self.x, self.met, solution, strict=True):
            self.model.add_hint(met, counts is not None)
            for v, n in zip(row, counts or (0,) * len(row), strict=True):
                self.model.add_hint(v, n)

    def fix_met(self, possible: list[int]) -> None:
        """Stage 0 proved that exactly the doses that can be met alone are met: fix
        them, so the half-reified window and deviation constraints become plain
        ones, which the linear relaxation sees."""
        chosen = set(possible)
        for d, met in enumerate(self.met):
            self.model.add(met == int(d in chosen))

    def read(self, solver: Any) -> Solution:
        return [
            tuple(int(solver.value(v)) for v in row) if solver.boolean_value(met) else None
            for row, met in zip(self.x, self.met, strict=True)
        ]
