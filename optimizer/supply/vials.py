"""The vial formulation: ``x[d][l]`` vials of lot ``l`` for dose ``d``.

Used on request, and for supplies in which no dose can be met or whose
pricing tables would be too large for column generation.  Each dose's total
is restricted to the totals its usable stock can reach in its window (the
exact dynamic program of :mod:`optimizer.exact`), and its deviation is
bounded below by its own single-dose optimum.  On large supplies its bound
stays near that sum of single-dose optima (a 200-dose day: 12% below the
plan it finds in 30 s), which is why column generation replaced it there.
"""

from __future__ import annotations

import time
from typing import Any

from optimizer import exact
from optimizer.problem import Mode
from optimizer.supply.scaled import OutOfTime, Scaled, Solution

__all__ = ["VialModel"]


class VialModel:
    """Vials per dose and lot (large supplies)."""

    def __init__(self, scaled: Scaled, deadline: float | None = None) -> None:
        """The model; :class:`OutOfTime` when building it runs past ``deadline``."""
        from ortools.sat.python import cp_model

        self.scaled = scaled
        model = cp_model.CpModel()
        self.model = model
        lots = scaled.lots
        self.x: list[list[Any]] = []
        self.met: list[Any] = []
        deviations = []
        for d, dose in enumerate(scaled.doses):
            if deadline is not None and time.monotonic() > deadline:
                raise OutOfTime
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
        self.deviations = deviations
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

    def within_caps(self, caps: dict[int, int]) -> Any:
        """A literal that, when true, holds each capped dose within its cap."""
        strict = self.model.new_bool_var("strict")
        for d, cap in caps.items():
            self.model.add(self.deviations[d] <= cap).only_enforce_if(strict)
        return strict

    def slack(self) -> Any:
        """The plan's slack (:meth:`Scaled.slack`) as a linear expression."""
        return sum(step * met for step, met in zip(self.scaled.steps, self.met, strict=True))

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
