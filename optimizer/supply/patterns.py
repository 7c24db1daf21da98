"""The pattern formulation: few classes of identical doses (a patient's month).

Doses that are interchangeable (same amount, window, vial cap, patient and
usable stock) form a class.  Every selection that puts one dose of a class in
its window (a *pattern*: vial counts per lot) is enumerated; ``y[c][p]``
counts the doses of class ``c`` made with pattern ``p``.  Identical doses are
then indistinguishable in the model, so no symmetric solutions exist, and the
linear relaxation is the strong cutting-stock bound: small supplies are
proven optimal quickly.

Like :class:`~optimizer.supply.vials.VialModel` it exposes ``model`` (the
``CpModel``), ``objective(stage)``, ``hint(solution)``, ``fix_met(doses)``
and ``read(solver)``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from optimizer.supply.scaled import Counts, Scaled, Solution

__all__ = ["MAX_PATTERNS", "PatternModel", "enumerate_patterns"]

#: Above this many patterns in all, the pattern model is not built.
MAX_PATTERNS = 60_000


def enumerate_patterns(
    amounts: Sequence[int],
    limits: Sequence[int],
    low: int,
    high: int,
    max_vials: int | None,
    cap: int,
    *,
    deadline: float | None = None,
) -> list[Counts] | None:
    """Every count vector with ``low <= total <= high`` (None past ``cap`` of them,
    or when the search runs past ``deadline``).

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
    if reach[0] < low:
        return []
    if n == 0:
        return [()]
    # depth-first with an explicit stack (a shelf of a thousand lots would be a
    # thousand frames deep): each entry is (lot, total so far, vials so far, the
    # count of this lot to try next, counting down)
    stack = [(0, 0, 0, min(c[0], high // a[0], vial_cap))]
    steps = 0
    while stack:
        steps += 1
        if deadline is not None and steps % 4096 == 0 and time.monotonic() > deadline:
            return None
        i, total, vials, k = stack.pop()
        if k < 0:
            continue
        stack.append((i, total, vials, k - 1))
        counts[i] = k
        total, vials = total + k * a[i], vials + k
        if total + reach[i + 1] < low:
            continue
        if i + 1 == n:
            found.append(tuple(counts))
            if len(found) > cap:
                return None
            continue
        j = i + 1
        stack.append((j, total, vials, min(c[j], (high - total) // a[j], vial_cap - vials)))
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
    def build(cls, scaled: Scaled, deadline: float | None = None) -> PatternModel | None:
        """The model, or None when the patterns are more than ``MAX_PATTERNS`` or
        enumerating them would run past ``deadline`` (a :func:`time.monotonic`
        instant)."""
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
                deadline=deadline,
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

    def within_caps(self, caps: dict[int, int]) -> Any:
        """A literal that, when true, holds each capped dose within its cap (the
        patterns further than a class's cap are not used)."""
        strict = self.model.new_bool_var("strict")
        for members, found, ys in zip(self.classes, self.patterns, self.y, strict=True):
            cap = caps.get(members[0])
            if cap is None:
                continue
            for pattern, y in zip(found, ys, strict=True):
                if self.scaled.deviation(members[0], pattern) > cap:
                    self.model.add(y == 0).only_enforce_if(strict)
        return strict

    def slack(self) -> Any:
        """The plan's slack (:meth:`Scaled.slack`) as a linear expression: a class's
        doses share one resolution."""
        return sum(
            self.scaled.steps[members[0]] * sum(ys)
            for members, ys in zip(self.classes, self.y, strict=True)
        )

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
