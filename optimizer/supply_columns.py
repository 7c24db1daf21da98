"""Column generation for large supplies (a pharmacy's day: many patients, many lots).

Why: with one vial variable per dose and lot, CP-SAT's bound on the total
deviation is little more than the sum of each dose's own optimum, and its
search wanders among symmetric plans.  Here a dose's decision is instead one
*column* (a selection: vial counts per lot whose total is in its window), and
the linear relaxation over every possible column (the Dantzig-Wolfe bound) is
close to the integer optimum, because the doses share the stock only through
a few contested lots.

How, for the total deviation (every dose that can be met is met):

1. Column generation.  The master linear program (HiGHS through
   ``scipy.optimize.linprog``) picks a convex combination of known columns per
   dose under the stock limits.  Its stock duals price the lots; a dynamic
   program over totals (binary-split bounded knapsack, as in
   :mod:`optimizer.exact`) then finds, for every total, the cheapest way to
   reach it at those prices, and each dose's best ``deviation + price`` column
   is added while it has a negative reduced cost.
2. The bound.  For any prices ``p >= 0`` the Lagrangian value
   ``sum over doses of min(deviation + p . counts) - p . stock`` is a lower
   bound of the total deviation; it is computed with the same dynamic program
   (exact over all columns, not only the known ones) and rounded up, since
   deviations are integers.
3. A plan.  CP-SAT solves the integer program over the known columns, started
   from the sequential plan (or each dose's own optimum).
4. The proof.  A plan better than the one found can only use columns whose
   Lagrangian cost is within ``found - 1 - bound`` of their dose's cheapest;
   when those are few (``MAX_ENUMERATED``), all are enumerated and the integer
   program over them settles optimality.  Otherwise the gap is reported.

The last stage (vials, then lots per patient, then expiry, with the total
deviation held at what stage 1 found) is an integer program over the same
columns plus each dose's fewest-vials selection for every total at least as
close to its order.  Its bound relaxes the stock and prices the deviation
limit (one multiplier, maximized by bisection); the lots term counts, per
dose, its distinct lots divided by its patient's doses, a lower bound of the
lots that patient uses.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from optimizer.supply_models import Counts, Scaled, Solution

__all__ = ["MAX_ENUMERATED", "ColumnSearch", "StageOutcome"]

#: The proof of step 4 is attempted only when at most this many columns qualify.
MAX_ENUMERATED = 20_000

Array = npt.NDArray[np.float64]
#: Doses priced by one table: the same usable stock per lot, the same vial cap.
_Group = tuple[tuple[int, ...], int | None]
#: Tie-break while generating columns: among equally priced ones, fewer vials.
_PER_VIAL = 1e-7


@dataclass(frozen=True)
class StageOutcome:
    """A stage's plan, its value, a lower bound of the optimum, and whether proven."""

    solution: Solution
    value: int
    bound: int
    proven: bool
    seconds: float


class _Table:
    """Least price to reach every total ``0 .. size - 1`` with bounded vial counts
    (and at most ``max_vials`` vials when given), with the counts recoverable."""

    def __init__(
        self, amounts: Sequence[int], limits: Sequence[int], size: int, max_vials: int | None
    ) -> None:
        self.width = len(amounts)
        self.size = size
        self.max_vials = max_vials
        self.items: list[tuple[int, int, int]] = []  # (lot index, vials, amount)
        for index, (amount, count) in enumerate(zip(amounts, limits, strict=True)):
            chunk = 1
            while count > 0:
                take = min(chunk, count)
                count -= take
                chunk *= 2
                if take * amount < size and (max_vials is None or take <= max_vials):
                    self.items.append((index, take, take * amount))
        self.masks: list[npt.NDArray[np.bool_]] = []
        self.cost: Array = np.zeros(0)
        self.best_vials: npt.NDArray[np.intp] | None = None

    def run(self, prices: Sequence[float] | Array, per_vial: float = 0.0) -> Array:
        size, cap = self.size, self.max_vials
        self.masks = []
        if cap is None:
            cost = np.full(size, np.inf)
            cost[0] = 0.0
            for index, take, weight in self.items:
                candidate = cost[: size - weight] + take * (prices[index] + per_vial)
                better = candidate < cost[weight:]
                np.copyto(cost[weight:], candidate, where=better)
                self.masks.append(better)
            self.cost = cost
            return cost
        table = np.full((cap + 1, size), np.inf)  # by vials used, then total
        table[0, 0] = 0.0
        for index, take, weight in self.items:
            candidate = table[: cap + 1 - take, : size - weight] + take * (prices[index] + per_vial)
            better = candidate < table[take:, weight:]
            np.copyto(table[take:, weight:], candidate, where=better)
            self.masks.append(better)
        self.best_vials = np.argmin(table, axis=0)
        self.cost = table[self.best_vials, np.arange(size)]
        return self.cost

    def counts(self, total: int) -> Counts:
        """The counts behind ``cost[total]`` of the last run."""
        counts = [0] * self.width
        vials = None if self.best_vials is None else int(self.best_vials[total])
        for (index, take, weight), mask in zip(
            reversed(self.items), reversed(self.masks), strict=True
        ):
            if total < weight:
                continue
            if vials is None:
                if mask[total - weight]:
                    counts[index] += take
                    total -= weight
            elif vials >= take and mask[vials - take, total - weight]:
                counts[index] += take
                total -= weight
                vials -= take
        assert total == 0, "backtracking must end at an empty selection"
        return tuple(counts)


def _suffix_tables(
    amounts: Sequence[int], limits: Sequence[int], size: int, prices: Array
) -> list[Array]:
    """``tables[i][r]``: least price to reach exactly ``r`` with lots ``i`` onwards."""
    tables: list[Array] = [np.zeros(0)] * (len(amounts) + 1)
    cost = np.full(size, np.inf)
    cost[0] = 0.0
    tables[-1] = cost.copy()
    for index in range(len(amounts) - 1, -1, -1):
        amount, count, chunk = amounts[index], limits[index], 1
        while count > 0:
            take = min(chunk, count)
            count -= take
            chunk *= 2
            weight = take * amount
            if weight < size:
                np.minimum(
                    cost[weight:], cost[: size - weight] + take * prices[index], out=cost[weight:]
                )
        tables[index] = cost.copy()
    return tables


class _Overflow(Exception):
    pass


class ColumnSearch:
    """The column-generation search over the doses ``doses`` (all to be met)."""

    def __init__(self, scaled: Scaled, doses: Sequence[int]) -> None:
        self.scaled = scaled
        self.doses = list(doses)
        self.position = {d: k for k, d in enumerate(self.doses)}
        self.stock = np.array([lot.count for lot in scaled.lots], dtype=np.float64)
        groups: dict[_Group, list[int]] = {}
        for d in self.doses:
            key = (tuple(scaled.limits[d]), scaled.doses[d].max_vials)
            groups.setdefault(key, []).append(d)
        self.groups = groups
        self.tables = {
            key: _Table(
                scaled.amounts, key[0], max(scaled.windows[d][1] for d in members) + 1, key[1]
            )
            for key, members in groups.items()
        }
        # per dose: its window's totals and their deviations
        self.totals: dict[int, npt.NDArray[np.int64]] = {}
        self.deviations: dict[int, npt.NDArray[np.int64]] = {}
        for d in self.doses:
            low, high = scaled.windows[d]
            totals = np.arange(max(low, 1), high + 1, dtype=np.int64)
            self.totals[d] = totals
            self.deviations[d] = np.abs(scaled.common * totals - scaled.targets[d])
        self.columns: dict[int, list[Counts]] = {d: [] for d in self.doses}
        self._seen: dict[int, set[Counts]] = {d: set() for d in self.doses}

    def add(self, d: int, counts: Counts) -> bool:
        if counts in self._seen[d]:
            return False
        self._seen[d].add(counts)
        self.columns[d].append(counts)
        return True

    # -- stage 0: a plan that meets every dose --------------------------------

    def meet_all(self, start: Solution, seconds: float, workers: int) -> Solution | None:
        """A plan meeting every dose, searched from ``start`` (which misses some):
        column generation and the integer program on ``met x W - deviation``, an
        empty column standing for a dose not met.  None when none is found."""
        scaled = self.scaled
        empty: Counts = (0,) * len(scaled.lots)
        weight = scaled.deviation_weight()
        for d in self.doses:
            self.add(d, empty)
            counts = start[d]
            if counts is not None:
                self.add(d, counts)

        def cost_of(d: int, counts: Counts) -> float:
            return float(scaled.deviation(d, counts) - weight) if any(counts) else 0.0

        def value_of(d: int, cheapest: Array, nu: float) -> Array:
            return self.deviations[d] - weight + cheapest[self.totals[d]]

        begun = time.perf_counter()
        self._column_generation(
            cost_of, np.zeros(len(self.stock)), value_of, None, begun + 0.5 * seconds
        )
        costs = {d: [round(cost_of(d, c)) for c in self.columns[d]] for d in self.doses}
        begin: Solution = [empty if c is None else c for c in start]
        found, _, _ = self._integer_program(
            costs, begin, seconds - (time.perf_counter() - begun), workers
        )
        for d in self.doses:  # the empty column has done its work
            self.columns[d].remove(empty)
            self._seen[d].discard(empty)
        if any(found[d] == empty for d in self.doses):
            return None
        return [None if c == empty else c for c in found]

    # -- stage 1: total deviation ---------------------------------------------

    def deviation_stage(
        self, starts: Sequence[Solution], seconds: float, workers: int
    ) -> StageOutcome:
        """Least total deviation, every dose met; ``starts`` are plans that meet them."""
        begun = time.perf_counter()
        deadline = begun + seconds
        for start in starts:
            for d in self.doses:
                counts = start[d]
                assert counts is not None, "a start meets every dose"
                self.add(d, counts)
        best = min(starts, key=lambda s: self.scaled.evaluate(1, s))
        prices = self._generate(begun + 0.4 * seconds)
        lagrangian, minima = self._lagrangian(prices)
        bound = math.ceil(lagrangian - 1e-6 * max(1.0, abs(lagrangian)))
        solution, value, _ = self._integer_program(
            self._deviation_objective(), best, deadline - time.perf_counter(), workers
        )
        if value > bound and time.perf_counter() < deadline:
            extra = self._enumerate(prices, minima, value - 1 - lagrangian, deadline)
            if extra is not None:  # every column a better plan could use is known
                for d, found in extra.items():
                    for counts in found:
                        self.add(d, counts)
                solution, value, optimal = self._integer_program(
                    self._deviation_objective(), solution, deadline - time.perf_counter(), workers
                )
                if optimal:
                    bound = value
        proven = value <= bound
        return StageOutcome(solution, value, min(bound, value), proven, time.perf_counter() - begun)

    def _deviation_objective(self) -> dict[int, list[int]]:
        return {d: [self.scaled.deviation(d, c) for c in self.columns[d]] for d in self.doses}

    def _generate(self, deadline: float) -> Array:
        """Column generation for the deviation, until no column prices out or
        ``deadline``: the last stock prices."""
        deviation = {d: self.deviations[d].astype(np.float64) for d in self.doses}
        prices, _ = self._column_generation(
            lambda d, c: float(self.scaled.deviation(d, c)),
            np.zeros(len(self.stock)),
            lambda d, cheapest, nu: deviation[d] + cheapest[self.totals[d]],
            None,
            deadline,
        )
        return prices

    def _column_generation(
        self,
        cost_of: Any,
        per_vial: Array,
        value_of: Any,
        deviation_cap: int | None,
        deadline: float,
    ) -> tuple[Array, float]:
        """The master LP over the known columns, priced out until no column has a
        negative reduced cost or ``deadline``: (stock prices, deviation price).

        ``cost_of(d, counts)``: a column's cost; pricing reaches every total at
        ``per_vial + stock price`` per vial, and ``value_of(d, cheapest, nu)``
        turns that into the dose's column values over its window's totals.
        """
        from scipy.optimize import linprog
        from scipy.sparse import csc_array, vstack

        prices, nu = np.zeros(len(self.stock)), 0.0
        while True:
            flat = [(d, c) for d in self.doses for c in self.columns[d]]
            rows, cols, data = [], [], []
            for j, (_, counts) in enumerate(flat):
                for i, n in enumerate(counts):
                    if n:
                        rows.append(i)
                        cols.append(j)
                        data.append(n)
            upper = csc_array((data, (rows, cols)), shape=(len(self.stock), len(flat)))
            limits = self.stock
            if deviation_cap is not None:
                spread = [float(self.scaled.deviation(d, c)) for d, c in flat]
                upper = vstack([upper, csc_array([spread])]).tocsc()
                limits = np.append(self.stock, float(deviation_cap))
            member = csc_array(
                (np.ones(len(flat)), ([self.position[d] for d, _ in flat], range(len(flat)))),
                shape=(len(self.doses), len(flat)),
            )
            lp = linprog(
                np.array([cost_of(d, c) for d, c in flat], dtype=np.float64),
                A_ub=upper,
                b_ub=limits,
                A_eq=member,
                b_eq=np.ones(len(self.doses)),
                bounds=(0, None),
                method="highs",
            )
            if lp.status != 0:  # the starts make it feasible; stop pricing quietly
                return prices, nu
            duals = np.maximum(0.0, -np.asarray(lp.ineqlin.marginals))
            prices = duals[: len(self.stock)]
            nu = float(duals[-1]) if deviation_cap is not None else 0.0
            convexity = np.asarray(lp.eqlin.marginals)
            added = 0
            for key, members in self.groups.items():
                table = self.tables[key]
                cheapest = table.run(per_vial + prices, _PER_VIAL)
                for d in members:
                    values = value_of(d, cheapest, nu)
                    for k in np.argsort(values, kind="stable")[:2]:
                        tolerance = 1e-6 * max(1.0, abs(float(values[k])))
                        if values[k] < convexity[self.position[d]] - tolerance and self.add(
                            d, table.counts(int(self.totals[d][k]))
                        ):
                            added += 1
            if not added or time.perf_counter() > deadline:
                return prices, nu

    def _lagrangian(self, prices: Array) -> tuple[float, dict[int, float]]:
        """The Lagrangian bound at ``prices`` and each dose's minimum
        ``deviation + prices . counts`` over all its columns."""
        minima: dict[int, float] = {}
        for key, members in self.groups.items():
            table = self.tables[key]
            cheapest = table.run(prices)
            for d in members:
                minima[d] = float(np.min(self.deviations[d] + cheapest[self.totals[d]]))
        return sum(minima.values()) - float(prices @ self.stock), minima

    def _enumerate(
        self, prices: Array, minima: dict[int, float], slack: float, deadline: float
    ) -> dict[int, list[Counts]] | None:
        """Every column within ``slack`` of its dose's minimum at ``prices`` (None
        when more than ``MAX_ENUMERATED`` or past ``deadline``)."""
        scaled = self.scaled
        found: dict[int, list[Counts]] = {}
        budget = [MAX_ENUMERATED]
        try:
            for key, members in self.groups.items():
                limits, cap = key[0], key[1]
                size = self.tables[key].size
                suffix = _suffix_tables(scaled.amounts, limits, size, prices)
                for d in members:
                    if time.perf_counter() > deadline:
                        return None
                    found[d] = self._columns_within(
                        d,
                        prices,
                        suffix,
                        limits,
                        cap,
                        minima[d] + slack,
                        budget,
                    )
        except _Overflow:
            return None
        return found

    def _columns_within(
        self,
        d: int,
        prices: Array,
        suffix: list[Array],
        limits: Sequence[int],
        cap: int | None,
        most: float,
        budget: list[int],
    ) -> list[Counts]:
        amounts = self.scaled.amounts
        width = len(amounts)
        margin = 1e-6 * max(1.0, abs(most))
        out: list[Counts] = []
        counts = [0] * width

        def walk(i: int, left: int, spent: float, vials: int, limit: float) -> None:
            if i == width:
                out.append(tuple(counts))
                budget[0] -= 1
                if budget[0] < 0:
                    raise _Overflow
                return
            amount = amounts[i]
            top = min(limits[i], left // amount)
            if cap is not None:
                top = min(top, cap - vials)
            after = suffix[i + 1]
            for k in range(top + 1):
                rest = left - k * amount
                cost = spent + k * prices[i]
                if cost + after[rest] <= limit:
                    counts[i] = k
                    walk(i + 1, rest, cost, vials + k, limit)
            counts[i] = 0

        reach = suffix[0]
        for total, deviation in zip(self.totals[d], self.deviations[d], strict=True):
            limit = most - float(deviation) + margin
            if reach[total] <= limit:
                walk(0, int(total), 0.0, 0, limit)
        return out

    # -- the integer program over the known columns -------------------------

    def _integer_program(
        self,
        costs: dict[int, list[int]],
        start: Solution,
        seconds: float,
        workers: int,
        deviation_cap: int | None = None,
        lots_weight: int = 0,
    ) -> tuple[Solution, int, bool]:
        """Best plan over the known columns: (plan, value, proven over them).

        ``costs`` per dose and column; ``deviation_cap`` bounds the total
        deviation; ``lots_weight`` prices each lot a patient uses.
        """
        from ortools.sat.python import cp_model

        scaled = self.scaled
        model = cp_model.CpModel()
        pick: dict[int, list[Any]] = {}
        for d in self.doses:
            pick[d] = [model.new_bool_var(f"y{d}_{j}") for j in range(len(self.columns[d]))]
            model.add_exactly_one(pick[d])
            for counts, y in zip(self.columns[d], pick[d], strict=True):
                model.add_hint(y, counts == start[d])
        for i, lot in enumerate(scaled.lots):
            terms = [
                counts[i] * y
                for d in self.doses
                for counts, y in zip(self.columns[d], pick[d], strict=True)
                if counts[i]
            ]
            most = sum(max(c[i] for c in self.columns[d]) for d in self.doses)
            if terms and most > lot.count:  # otherwise the lot cannot run out
                model.add(sum(terms) <= lot.count)
        if deviation_cap is not None:
            model.add(
                sum(
                    scaled.deviation(d, c) * y
                    for d in self.doses
                    for c, y in zip(self.columns[d], pick[d], strict=True)
                )
                <= deviation_cap
            )
        objective = [
            cost * y for d in self.doses for cost, y in zip(costs[d], pick[d], strict=True)
        ]
        if lots_weight:
            for members in scaled.patients.values():
                ours = [d for d in members if d in pick]
                for i in range(len(scaled.lots)):
                    users = [
                        y
                        for d in ours
                        for c, y in zip(self.columns[d], pick[d], strict=True)
                        if c[i]
                    ]
                    if users:
                        used = model.new_bool_var("")
                        for y in users:
                            model.add_implication(y, used)
                        objective.append(lots_weight * used)
        model.minimize(sum(objective))
        solver = cp_model.CpSolver()
        solver.parameters.num_workers = workers
        solver.parameters.max_time_in_seconds = max(0.05, seconds)
        code = solver.solve(model)
        if code not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            return start, self._value(costs, start, lots_weight), False
        solution = list(start)
        for d in self.doses:
            for counts, y in zip(self.columns[d], pick[d], strict=True):
                if solver.boolean_value(y):
                    solution[d] = counts
        value = self._value(costs, solution, lots_weight)
        if value > self._value(costs, start, lots_weight):
            return start, self._value(costs, start, lots_weight), False
        return solution, value, code == cp_model.OPTIMAL

    def _value(self, costs: dict[int, list[int]], solution: Solution, lots_weight: int) -> int:
        value = 0
        for d in self.doses:
            counts = solution[d]
            assert counts is not None
            value += costs[d][self.columns[d].index(counts)]
        if lots_weight:
            for members in self.scaled.patients.values():
                rows = [solution[d] for d in members if d in self.position]
                value += lots_weight * sum(
                    1 for i in range(len(self.scaled.lots)) if any(r and r[i] for r in rows)
                )
        return value

    # -- stage 2: vials, then lots per patient, then expiry --------------------

    def last_stage(
        self, solution: Solution, deviation: int, seconds: float, workers: int
    ) -> StageOutcome:
        """Fewest vials, lots per patient, expiry cost, total deviation at most ``deviation``."""
        begun = time.perf_counter()
        scaled = self.scaled
        w_vials, w_lots = scaled.weights()
        per_vial = np.array([w_vials + r for r in scaled.ranks], dtype=np.float64)
        share = {d: len(m) for m in scaled.patients.values() for d in m}
        for key, members in self.groups.items():  # each dose's fewest vials, as close
            table = self.tables[key]
            table.run(per_vial)
            for d in members:
                counts = solution[d]
                assert counts is not None
                closest = scaled.deviation(d, counts)
                for total, dev in zip(self.totals[d], self.deviations[d], strict=True):
                    if dev <= closest and np.isfinite(table.cost[total]):
                        self.add(d, table.counts(int(total)))

        def cost_of(d: int, counts: Counts) -> float:
            lots = sum(1 for n in counts if n)
            return float(per_vial @ np.array(counts)) + w_lots * lots / share[d]

        def value_of(d: int, cheapest: Array, nu: float) -> Array:
            return cheapest[self.totals[d]] + nu * self.deviations[d]

        prices, _ = self._column_generation(
            cost_of, per_vial, value_of, deviation, begun + 0.4 * seconds
        )
        costs = {
            d: [
                w_vials * sum(c) + sum(r * n for r, n in zip(scaled.ranks, c, strict=True))
                for c in self.columns[d]
            ]
            for d in self.doses
        }
        found, value, _ = self._integer_program(
            costs,
            solution,
            seconds - (time.perf_counter() - begun),
            workers,
            deviation_cap=deviation,
            lots_weight=w_lots,
        )
        bound = max(
            self._last_bound(deviation, per_vial, w_lots, share, np.zeros(len(self.stock))),
            self._last_bound(deviation, per_vial, w_lots, share, prices),
        )
        return StageOutcome(
            found, value, min(bound, value), value <= bound, time.perf_counter() - begun
        )

    def _last_bound(
        self, deviation: int, per_vial: Array, w_lots: int, share: dict[int, int], prices: Array
    ) -> int:
        """The Lagrangian bound of the last stage at stock ``prices``, the deviation
        limit's multiplier maximized by bisection (the bound is concave in it)."""
        scaled = self.scaled
        rows: list[tuple[Array, Array]] = []
        for key, members in self.groups.items():
            limits = key[0]
            size = self.tables[key].size
            by_share: dict[int, Array] = {}
            for d in members:
                n = share[d]
                if n not in by_share:
                    by_share[n] = _with_lot_cost(
                        scaled.amounts, limits, size, per_vial + prices, w_lots / n
                    )
                cost = by_share[n][self.totals[d]]
                rows.append((cost, self.deviations[d].astype(np.float64)))
        fixed = -float(prices @ self.stock)

        def value(nu: float) -> tuple[float, float]:
            total, slope = fixed - nu * deviation, -float(deviation)
            for cost, dev in rows:
                k = int(np.argmin(cost + nu * dev))
                total += float(cost[k] + nu * dev[k])
                slope += float(dev[k])
            return total, slope

        best, slope = value(0.0)
        if slope > 0:
            low, high = 0.0, 1.0
            while value(high)[1] > 0 and high < 1e18:
                low, high = high, high * 2
            for _ in range(60):
                middle = (low + high) / 2
                found, slope = value(middle)
                best = max(best, found)
                if slope > 0:
                    low = middle
                else:
                    high = middle
            best = max(best, value(high)[0])
        return math.ceil(best - 1e-9 * max(1.0, abs(best)) - 1e-6)


def _with_lot_cost(
    amounts: Sequence[int], limits: Sequence[int], size: int, per_vial: Array, per_lot: float
) -> Array:
    """Least ``per_vial . counts + per_lot x lots used`` to reach every total."""
    cost = np.full(size, np.inf)
    cost[0] = 0.0
    for index, (amount, count) in enumerate(zip(amounts, limits, strict=True)):
        if not count or amount >= size:
            continue
        first = np.full(size, np.inf)  # at least one vial of this lot
        first[amount:] = cost[: size - amount] + per_vial[index] + per_lot
        count, chunk = count - 1, 1
        while count > 0:
            take = min(chunk, count)
            count -= take
            chunk *= 2
            weight = take * amount
            if weight < size:
                np.minimum(
                    first[weight:],
                    first[: size - weight] + take * per_vial[index],
                    out=first[weight:],
                )
        np.minimum(cost, first, out=cost)
    return cost
