"""Column generation for large supplies (a pharmacy's day: many patients, many lots).

Why: with one vial variable per dose and lot, CP-SAT's bound on the total
deviation is little more than the sum of each dose's own optimum, and its
search wanders among symmetric plans.  Here a dose's decision is instead one
*column* (a selection: vial counts per lot whose total is in its window), and
the linear relaxation over every possible column (the Dantzig-Wolfe bound) is
close to the integer optimum, because the doses share the stock only through
a few contested lots.

How, for the total deviation (stage 1):

1. Column generation.  The master linear program (HiGHS through
   ``scipy.optimize.linprog``) picks a convex combination of known columns per
   dose under the stock limits.  Its stock duals price the lots; a dynamic
   program over totals (binary-split bounded knapsack, as in
   :mod:`optimizer.exact`) then finds, for every total, the cheapest way to
   reach it at those prices, and each dose's best ``deviation + price``
   columns are added while they have a negative reduced cost.
2. The bound.  For any prices ``p >= 0`` the Lagrangian value
   ``sum over doses of min(deviation + p . counts) - p . stock`` is a lower
   bound of the total deviation; it is computed with the same dynamic program
   (exact over all columns, not only the known ones) and rounded up, since
   deviations are integers.
3. A plan.  CP-SAT solves the integer program over the known columns, started
   from the sequential plan (or each dose's own optimum), with the bound as a
   floor so that it stops on reaching it.
4. The proof.  Any plan costs at least the bound plus, per dose, how far its
   column's Lagrangian cost is above that dose's cheapest; so a plan better
   than the one found uses only columns within ``found - 1 - bound`` of their
   dose's cheapest.  When those are few (``MAX_ENUMERATED``), all are
   enumerated (a depth-first search pruned by least-cost-to-complete tables)
   and the integer program over them settles optimality.  Otherwise the gap
   is reported.

Stage 0 (most doses met) runs only when neither the sequential plan nor the
doses' own optima meet every dose that can be met alone.  An empty column
stands for a dose not met; the same steps run on ``deviation - W`` per dose
met (``W`` above any total deviation), and a plan meeting ``m`` doses costs
at most ``W - 1 - W m``, so the bound caps ``m``; the integer program counts
doses not met.  The stages after it then keep that many doses met (one more
row in the linear program, one more price in the bound).

The last stage (vials, then lots per patient, then expiry, with the total
deviation held at what stage 1 found) starts from each dose's fewest-vials
selections for its nearest totals and is generated the same way: in the
linear program a column costs ``vials x W_vials + expiry + lots x W_lots /
doses of its patient`` (a lower bound of the lots the patient uses), with
one more row for the deviation limit; pricing leaves the lots term out (it
only proposes columns).  The bound keeps it (a table where a lot's first
vial costs the lot's share), relaxes the stock at the final prices, and
maximizes the deviation limit's multiplier by bisection (the bound is
concave in it).  The integer program then counts each lot a patient uses
exactly.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from optimizer.cpsat import set_limits
from optimizer.exact import binary_split
from optimizer.supply.scaled import Counts, Scaled, Solution

__all__ = ["MAX_ENUMERATED", "MAX_TABLE_CELLS", "ColumnSearch", "StageOutcome"]

#: The proof of step 4 is attempted only when at most this many columns qualify.
MAX_ENUMERATED = 20_000
#: Totals x table items (x vial cap) above which column generation is not used.
MAX_TABLE_CELLS = 100_000_000

Array = npt.NDArray[np.float64]
#: Doses priced by one table: the same usable stock per lot, the same vial cap.
_Group = tuple[tuple[int, ...], int | None]
#: The last stage adds, per dose, the fewest-vials selection of this many of the
#: totals at least as close to its order as its stage-1 selection, nearest first.
#: Share of the last stage's time for the stricter near set (every dose within its
#: cap); when that is not decided in it, the pooled near set has the rest.
_STRICT_SHARE = 0.5
_NEAREST = 4
#: Columns added per dose and pricing round (its best totals at the prices).
_PER_ROUND = 2
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
            for take in binary_split(count):
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
        amount = amounts[index]
        for take in binary_split(limits[index]):
            weight = take * amount
            if weight < size:
                np.minimum(
                    cost[weight:], cost[: size - weight] + take * prices[index], out=cost[weight:]
                )
        tables[index] = cost.copy()
    return tables


def _binding_cap(scaled: Scaled, d: int) -> int | None:
    """Dose ``d``'s vial cap, None when more vials than fit in its window: such a
    cap never binds, and the dose shares the uncapped table."""
    cap: int | None = scaled.doses[d].max_vials
    if cap is not None and cap * min(scaled.amounts, default=1) > scaled.windows[d][1]:
        return None
    return cap


class _Overflow(Exception):
    pass


class ColumnSearch:
    """The column-generation search over the doses ``doses`` (those that can be
    met, each alone).  Solutions are per dose of the whole supply, None where
    not met; inside, an empty column stands for a dose not met."""

    def __init__(self, scaled: Scaled, doses: Sequence[int]) -> None:
        self.scaled = scaled
        self.doses = list(doses)
        self.position = {d: k for k, d in enumerate(self.doses)}
        self.stock = np.array([lot.count for lot in scaled.lots], dtype=np.float64)
        self.empty: Counts = (0,) * len(scaled.lots)
        groups: dict[_Group, list[int]] = {}
        for d in self.doses:
            key = (tuple(scaled.limits[d]), _binding_cap(scaled, d))
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
        self._deviations: dict[tuple[int, Counts], int] = {}
        self.met: int | None = None  # doses to meet, when fewer than all

    @staticmethod
    def fits(scaled: Scaled, doses: Sequence[int]) -> bool:
        """Whether the pricing tables stay within ``MAX_TABLE_CELLS`` (decimal
        potencies scale the totals up; the vial model takes such supplies)."""
        if not doses:
            return False
        size = max(scaled.windows[d][1] for d in doses) + 1
        items = sum(max(1, n).bit_length() for n in (lot.count for lot in scaled.lots))
        widest = max((_binding_cap(scaled, d) or 0 for d in doses), default=0)
        return size * items * (1 + widest) <= MAX_TABLE_CELLS

    def add(self, d: int, counts: Counts) -> bool:
        if counts in self._seen[d]:
            return False
        self._seen[d].add(counts)
        self.columns[d].append(counts)
        return True

    def _add_all(self, found: dict[int, list[Counts]]) -> None:
        for d, columns in found.items():
            for counts in columns:
                self.add(d, counts)

    def _inside(self, solution: Solution) -> Solution:
        return [
            self.empty if c is None and d in self.position else c for d, c in enumerate(solution)
        ]

    def _outside(self, solution: Solution) -> Solution:
        return [None if c == self.empty else c for c in solution]

    def _deviation(self, d: int, counts: Counts) -> int:
        """A column's deviation (0 for the empty one), computed once per column."""
        known = self._deviations.get((d, counts))
        if known is None:
            known = self.scaled.deviation(d, counts) if counts != self.empty else 0
            self._deviations[d, counts] = known
        return known

    # -- stage 0: most doses met ----------------------------------------------

    def most_met(self, start: Solution, seconds: float, workers: int) -> StageOutcome:
        """Most doses met, searched from ``start`` (which misses some): column
        generation on ``deviation - W`` per dose met (W above any total deviation),
        then the integer program on the doses not met.  Value and bound are
        ``-doses met`` and ``-most doses that can be met``."""
        begun = time.monotonic()
        scaled = self.scaled
        weight = scaled.deviation_weight()
        inside = self._inside(start)
        for d in self.doses:
            self.add(d, self.empty)
            counts = inside[d]
            assert counts is not None
            self.add(d, counts)

        def cost_of(d: int, counts: Counts) -> float:
            return float(self._deviation(d, counts) - weight) if counts != self.empty else 0.0

        def value_of(d: int, cheapest: Array, nu: float) -> Array:
            return self.deviations[d] - weight + cheapest[self.totals[d]]

        prices, _, _ = self._column_generation(
            cost_of, np.zeros(len(self.stock)), value_of, None, begun + 0.5 * seconds
        )
        # any plan meeting m doses costs at most W - 1 - W x m, and at least the bound
        lagrangian, minima = self._lagrangian(prices, float(weight), partial=True)
        most = min(len(self.doses), math.floor((weight - 1 - lagrangian) / weight + 1e-9))
        deadline = begun + seconds

        def unmet() -> dict[int, list[int]]:
            return {d: [int(c == self.empty) for c in self.columns[d]] for d in self.doses}

        fewest = len(self.doses) - most  # doses not met, at the least
        found, missed, _ = self._integer_program(
            unmet(), inside, deadline - time.monotonic(), workers, floor=fewest, presolve=False
        )
        met = len(self.doses) - missed
        if met < most and time.monotonic() < deadline:
            # a plan meeting one dose more costs at most -W x met - 1: its columns
            # are within that of the bound (step 4 of the module docstring)
            slack = -weight * met - 1 - lagrangian
            extra = self._enumerate(prices, float(weight), minima, slack, deadline)
            if extra is not None:
                self._add_all(extra)
                found, missed, optimal = self._integer_program(
                    unmet(),
                    found,
                    deadline - time.monotonic(),
                    workers,
                    floor=fewest,
                    presolve=False,
                )
                met = len(self.doses) - missed
                if optimal:
                    most = met
        self.met = met if met < len(self.doses) else None
        if self.met is None:  # every dose met: the empty column has done its work
            for d in self.doses:
                self.columns[d].remove(self.empty)
                self._seen[d].discard(self.empty)
        return StageOutcome(
            self._outside(found), -met, -max(most, met), met >= most, time.monotonic() - begun
        )

    # -- stage 1: total deviation ---------------------------------------------

    def deviation_stage(
        self, starts: Sequence[Solution], seconds: float, workers: int
    ) -> StageOutcome:
        """Least total deviation with as many doses met as ``starts`` (plans
        meeting every dose, or stage 0's)."""
        begun = time.monotonic()
        deadline = begun + seconds
        inside = [self._inside(start) for start in starts]
        for start in inside:
            for d in self.doses:
                counts = start[d]
                assert counts is not None
                self.add(d, counts)
        costs = self._deviation_costs()
        best = min(inside, key=lambda s: self._value(costs, s, 0))
        prices, sigma = self._generate(begun + 0.4 * seconds)
        lagrangian, minima = self._lagrangian(prices, sigma, partial=self.met is not None)
        bound = math.ceil(lagrangian - 1e-6 * max(1.0, abs(lagrangian)))
        solution, value, _ = self._integer_program(
            self._deviation_costs(), best, deadline - time.monotonic(), workers, floor=bound
        )
        if value > bound and time.monotonic() < deadline:
            extra = self._enumerate(prices, sigma, minima, value - 1 - lagrangian, deadline)
            if extra is not None:  # every column a better plan could use is known
                self._add_all(extra)
                solution, value, optimal = self._integer_program(
                    self._deviation_costs(),
                    solution,
                    deadline - time.monotonic(),
                    workers,
                    floor=bound,
                )
                if optimal:
                    bound = value
        return StageOutcome(
            self._outside(solution),
            value,
            min(bound, value),
            value <= bound,
            time.monotonic() - begun,
        )

    def _deviation_costs(self) -> dict[int, list[int]]:
        return {d: [self._deviation(d, c) for c in self.columns[d]] for d in self.doses}

    def _generate(self, deadline: float) -> tuple[Array, float]:
        """Column generation for the deviation, until no column prices out or
        ``deadline``: the last stock prices and the price of a dose met."""
        deviation = {d: self.deviations[d].astype(np.float64) for d in self.doses}
        prices, _, sigma = self._column_generation(
            lambda d, c: float(self._deviation(d, c)),
            np.zeros(len(self.stock)),
            lambda d, cheapest, nu: deviation[d] + cheapest[self.totals[d]],
            None,
            deadline,
        )
        return prices, sigma

    def _column_generation(
        self,
        cost_of: Any,
        per_vial: Array,
        value_of: Any,
        deviation_cap: int | None,
        deadline: float,
    ) -> tuple[Array, float, float]:
        """The master LP over the known columns, priced out until no column has a
        negative reduced cost or ``deadline``: (stock prices, deviation price,
        price of a dose met).

        ``cost_of(d, counts)``: a column's cost; pricing reaches every total at
        ``per_vial + stock price`` per vial, and ``value_of(d, cheapest, nu)``
        turns that into the dose's column values over its window's totals.
        When fewer than all doses are to be met (``self.met``), a row holds the
        number of doses met.
        """
        from scipy.optimize import linprog
        from scipy.sparse import csc_array, vstack

        prices, nu, sigma = np.zeros(len(self.stock)), 0.0, 0.0
        took = 0.0  # the last round's seconds: no round is begun that would end late
        while time.monotonic() + took < deadline:
            began = time.monotonic()
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
                spread = [float(self._deviation(d, c)) for d, c in flat]
                upper = vstack([upper, csc_array([spread])]).tocsc()
                limits = np.append(self.stock, float(deviation_cap))
            member = csc_array(
                (np.ones(len(flat)), ([self.position[d] for d, _ in flat], range(len(flat)))),
                shape=(len(self.doses), len(flat)),
            )
            equal = np.ones(len(self.doses))
            if self.met is not None:
                met = [float(c != self.empty) for _, c in flat]
                member = vstack([member, csc_array([met])]).tocsc()
                equal = np.append(equal, float(self.met))
            lp = linprog(
                np.array([cost_of(d, c) for d, c in flat], dtype=np.float64),
                A_ub=upper,
                b_ub=limits,
                A_eq=member,
                b_eq=equal,
                bounds=(0, None),
                method="highs",
            )
            if lp.status != 0:  # the starts make it feasible; stop pricing quietly
                return prices, nu, sigma
            duals = np.maximum(0.0, -np.asarray(lp.ineqlin.marginals))
            prices = duals[: len(self.stock)]
            nu = float(duals[-1]) if deviation_cap is not None else 0.0
            convexity = np.asarray(lp.eqlin.marginals)
            sigma = float(convexity[-1]) if self.met is not None else 0.0
            added = 0
            for key, members in self.groups.items():
                table = self.tables[key]
                cheapest = table.run(per_vial + prices, _PER_VIAL)
                for d in members:
                    values = value_of(d, cheapest, nu) - sigma
                    for k in np.argsort(values, kind="stable")[:_PER_ROUND]:
                        tolerance = 1e-6 * max(1.0, abs(float(values[k])))
                        if values[k] < convexity[self.position[d]] - tolerance and self.add(
                            d, table.counts(int(self.totals[d][k]))
                        ):
                            added += 1
            if not added:
                break
            took = time.monotonic() - began
        return prices, nu, sigma

    def _lagrangian(
        self, prices: Array, sigma: float, partial: bool
    ) -> tuple[float, dict[int, float]]:
        """The Lagrangian bound of the total deviation at stock ``prices`` and
        ``sigma`` per dose met, and each dose's minimum ``deviation + prices .
        counts - sigma`` over all its columns (0 for not met, when ``partial``).

        With ``partial`` the bound is of a plan meeting ``self.met`` doses (or
        any number, when ``self.met`` is None: stage 0 passes ``sigma = -W``)."""
        minima: dict[int, float] = {}
        for key, members in self.groups.items():
            table = self.tables[key]
            cheapest = table.run(prices)
            for d in members:
                least = float(np.min(self.deviations[d] + cheapest[self.totals[d]])) - sigma
                minima[d] = min(0.0, least) if partial else least
        value = sum(minima.values()) - float(prices @ self.stock)
        if self.met is not None:
            value += sigma * self.met
        return value, minima

    def _enumerate(
        self,
        prices: Array,
        sigma: float,
        minima: dict[int, float],
        slack: float,
        deadline: float,
    ) -> dict[int, list[Counts]] | None:
        """Every column within ``slack`` of its dose's minimum at ``prices`` (None
        when more than ``MAX_ENUMERATED`` or past ``deadline``)."""
        scaled = self.scaled
        found: dict[int, list[Counts]] = {}
        budget = [MAX_ENUMERATED]
        try:
            for key, members in self.groups.items():
                limits, cap = key
                size = self.tables[key].size
                suffix = _suffix_tables(scaled.amounts, limits, size, prices)
                for d in members:
                    if time.monotonic() > deadline:
                        return None
                    most = minima[d] + slack + sigma
                    found[d] = self._columns_within(d, prices, suffix, limits, cap, most, budget)
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

        def walk(total: int, limit: float) -> None:
            # depth-first over the lots with an explicit stack (a thousand lots would
            # be a thousand frames deep): (lot, amount left, cost so far, vials so
            # far, the count of this lot to try next, counting up)
            stack = [(0, total, 0.0, 0, 0)]
            while stack:
                i, left, spent, vials, k = stack.pop()
                if i == width:
                    out.append(tuple(counts))
                    budget[0] -= 1
                    if budget[0] < 0:
                        raise _Overflow
                    continue
                amount = amounts[i]
                top = min(limits[i], left // amount)
                if cap is not None:
                    top = min(top, cap - vials)
                after = suffix[i + 1]
                while k <= top and spent + k * prices[i] + after[left - k * amount] > limit:
                    k += 1
                if k > top:
                    continue
                stack.append((i, left, spent, vials, k + 1))  # the next count, later
                counts[i] = k
                stack.append((i + 1, left - k * amount, spent + k * prices[i], vials + k, 0))

        reach = suffix[0]
        for total, deviation in zip(self.totals[d], self.deviations[d], strict=True):
            limit = most - float(deviation) + margin
            if reach[total] <= limit:
                walk(int(total), limit)
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
        floor: int | None = None,
        presolve: bool = True,
        slack: bool = False,
        caps: dict[int, int] | None = None,
    ) -> tuple[Solution, int, bool]:
        """Best plan over the known columns: (plan, value, proven over them).

        ``costs`` per dose and column; ``deviation_cap`` bounds the total
        deviation (less each met dose's resolution, with ``slack``);
        ``lots_weight`` prices each lot a patient uses; ``caps`` holds each capped
        dose within its cap when some plan over the columns allows it; ``floor`` is a
        proven lower bound of the value (CP-SAT stops when it reaches it).
        ``presolve=False`` for the doses-not-met program: there CP-SAT's presolve
        loosens the objective's bound (seen with OR-Tools 9.15: doses not met
        bounded below by -30, where 0 is plain), so a plan meeting every dose
        was found at once but never proven; without presolve it is.
        """
        from ortools.sat.python import cp_model

        scaled = self.scaled
        model = cp_model.CpModel()
        width = len(scaled.lots)
        pick: dict[int, list[Any]] = {}
        usage: list[tuple[list[Any], list[int]]] = [([], []) for _ in range(width)]
        peak = [0] * width  # the most each lot could give, every dose at its largest
        picks: list[Any] = []
        weights: list[int] = []
        met: list[Any] = []
        spread: list[int] = []
        for d in self.doses:
            columns = self.columns[d]
            pick[d] = ys = [model.new_bool_var("") for _ in columns]
            model.add_exactly_one(ys)
            for counts, y, cost in zip(columns, ys, costs[d], strict=True):
                model.add_hint(y, counts == start[d])
                picks.append(y)
                weights.append(cost)
                for i, n in enumerate(counts):
                    if n:
                        usage[i][0].append(y)
                        usage[i][1].append(n)
                if self.met is not None and counts != self.empty:
                    met.append(y)
                if deviation_cap is not None:
                    allowed = scaled.steps[d] if slack and counts != self.empty else 0
                    spread.append(self._deviation(d, counts) - allowed)
            for i, most in enumerate(map(max, zip(*columns, strict=True))):
                peak[i] += most
        for (ys, ns), most, lot in zip(usage, peak, scaled.lots, strict=True):
            if most > lot.count:  # otherwise the lot cannot run out
                model.add(cp_model.LinearExpr.weighted_sum(ys, ns) <= lot.count)
        if self.met is not None:
            model.add(sum(met) == self.met)
        if deviation_cap is not None:
            model.add(cp_model.LinearExpr.weighted_sum(picks, spread) <= deviation_cap)
        if lots_weight:
            for members in scaled.patients.values():
                ours = [d for d in members if d in pick]
                for i in range(width):
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
                        picks.append(used)
                        weights.append(lots_weight)
        objective = cp_model.LinearExpr.weighted_sum(picks, weights)
        if floor is not None:
            model.add(objective >= floor)
        model.minimize(objective)
        begun = time.monotonic()
        undecided = False
        if caps:  # the stricter set first: its columns beyond a cap are left out
            strict = model.clone()
            for d, cap in caps.items():
                for counts, y in zip(self.columns.get(d, ()), pick.get(d, ()), strict=True):
                    if counts != self.empty and self._deviation(d, counts) > cap:
                        strict.add(strict.get_bool_var_from_proto_index(y.index) == 0)
            solver = cp_model.CpSolver()
            set_limits(solver, max(0.05, seconds * _STRICT_SHARE), workers)
            solver.parameters.cp_model_presolve = presolve
            code = solver.solve(strict)
            if code not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
                undecided = code != cp_model.INFEASIBLE
                solver = cp_model.CpSolver()
                set_limits(solver, max(0.05, seconds - (time.monotonic() - begun)), workers)
                solver.parameters.cp_model_presolve = presolve
                code = solver.solve(model)
        else:
            solver = cp_model.CpSolver()
            set_limits(solver, max(0.05, seconds), workers)
            solver.parameters.cp_model_presolve = presolve
            code = solver.solve(model)
        if code not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            return start, self._value(costs, start, lots_weight), False
        solution = list(start)
        for d in self.doses:
            for counts, y in zip(self.columns[d], pick[d], strict=True):
                if solver.boolean_value(y):
                    solution[d] = counts
        value = self._value(costs, solution, lots_weight)

        def keeps_caps(plan: Solution) -> bool:  # every capped dose within its cap
            return not caps or all(
                plan[d] is None or plan[d] == self.empty or self._deviation(d, plan[d]) <= cap  # type: ignore[arg-type]
                for d, cap in caps.items()
                if d < len(plan)
            )

        # the start stands only when it ranks at least as well: the stricter set first
        if (not keeps_caps(start), self._value(costs, start, lots_weight)) < (
            not keeps_caps(solution),
            value,
        ):
            return start, self._value(costs, start, lots_weight), False
        return solution, value, code == cp_model.OPTIMAL and not undecided

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
        self,
        solution: Solution,
        deviation: int,
        seconds: float,
        workers: int,
        others: Sequence[Solution] = (),
    ) -> StageOutcome:
        """Fewest vials, lots per patient, expiry cost, among the plans meeting as
        many doses as ``solution`` whose total deviation less their slack (the
        met doses' resolutions) is at most ``deviation``, the least one.  The
        search starts from the best of ``solution`` and ``others`` (the sequential
        plan) inside that set, their columns added."""
        begun = time.monotonic()
        scaled = self.scaled
        met = sum(c is not None for c in solution)
        inside = [
            plan
            for plan in others
            if sum(c is not None for c in plan) == met
            and all((plan[d] is None) == (solution[d] is None) for d in range(len(plan)))
            and scaled.evaluate(1, plan) - scaled.slack(plan) <= deviation
        ]
        if inside:
            solution = min(
                [solution, *inside],
                key=lambda p: (not scaled.within_caps(p), scaled.evaluate(2, p)),
            )
        solution = self._inside(solution)
        for d in self.doses:
            counts = solution[d]
            if counts is not None:
                self.add(d, counts)
        w_vials, w_lots = scaled.weights()
        per_vial = np.array([w_vials + r for r in scaled.ranks], dtype=np.float64)
        share = {d: len(m) for m in scaled.patients.values() for d in m}
        for key, members in self.groups.items():  # each dose's fewest vials, as close
            table = self.tables[key]
            table.run(per_vial)
            for d in members:
                counts = solution[d]
                assert counts is not None
                if counts == self.empty:
                    continue
                closest = scaled.deviation(d, counts)
                reach = closest + scaled.steps[d]  # within its resolution: fewer vials?
                near = np.flatnonzero(
                    (self.deviations[d] <= reach) & np.isfinite(table.cost[self.totals[d]])
                )
                for k in near[np.argsort(self.deviations[d][near], kind="stable")][:_NEAREST]:
                    self.add(d, table.counts(int(self.totals[d][k])))

        def cost_of(d: int, counts: Counts) -> float:
            lots = sum(1 for n in counts if n)
            return float(per_vial @ np.array(counts)) + w_lots * lots / share[d]

        def value_of(d: int, cheapest: Array, nu: float) -> Array:
            return cheapest[self.totals[d]] + nu * self.deviations[d]

        # the prices and bounds relax the near set to its widest (any plan meeting as
        # many doses has at most that much slack): still lower bounds
        met = sum(c is not None and c != self.empty for c in solution)
        widest = deviation + scaled.widest_slack(met)
        prices, _, sigma = self._column_generation(
            cost_of, per_vial, value_of, widest, begun + 0.4 * seconds
        )
        costs = {
            d: [
                w_vials * sum(c) + sum(r * n for r, n in zip(scaled.ranks, c, strict=True))
                for c in self.columns[d]
            ]
            for d in self.doses
        }
        bound = max(
            self._last_bound(widest, per_vial, w_lots, share, prices * 0, sigma),
            self._last_bound(widest, per_vial, w_lots, share, prices, sigma),
        )
        found, value, _ = self._integer_program(
            costs,
            solution,
            seconds - (time.monotonic() - begun),
            workers,
            deviation_cap=deviation,
            lots_weight=w_lots,
            slack=True,
            caps=scaled.caps(begun + 0.2 * seconds),
        )
        return StageOutcome(
            self._outside(found),
            value,
            min(bound, value),
            value <= bound,
            time.monotonic() - begun,
        )

    def _last_bound(
        self,
        deviation: int,
        per_vial: Array,
        w_lots: int,
        share: dict[int, int],
        prices: Array,
        sigma: float,
    ) -> int:
        """The Lagrangian bound of the last stage at stock ``prices`` and ``sigma``
        per dose met (when not all are), the deviation limit's multiplier
        maximized by bisection (the bound is concave in it)."""
        scaled = self.scaled
        costs: list[Array] = []
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
                costs.append(by_share[n][self.totals[d]])
        order = [d for members in self.groups.values() for d in members]
        # one row per dose, its window's totals padded with unreachable ones
        width = max(len(c) for c in costs)
        cost = np.full((len(costs), width), np.inf)
        spread = np.zeros((len(costs), width))
        for row, (c, d) in enumerate(zip(costs, order, strict=True)):
            cost[row, : len(c)] = c
            spread[row, : len(c)] = self.deviations[d]
        fixed = -float(prices @ self.stock)
        if self.met is None:
            sigma = 0.0
        else:
            fixed += sigma * self.met
        rows = np.arange(len(costs))

        def value(nu: float) -> tuple[float, float]:
            chosen = np.argmin(cost + nu * spread, axis=1)
            least = cost[rows, chosen] + nu * spread[rows, chosen] - sigma
            taken = least < 0 if self.met is not None else np.ones(len(rows), dtype=bool)
            total = fixed - nu * deviation + float(np.sum(least[taken]))
            return total, float(np.sum(spread[rows, chosen][taken])) - deviation

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
        for take in binary_split(count - 1):
            weight = take * amount
            if weight < size:
                np.minimum(
                    first[weight:],
                    first[: size - weight] + take * per_vial[index],
                    out=first[weight:],
                )
        np.minimum(cost, first, out=cost)
    return cost
