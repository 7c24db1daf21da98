"""The exact fast path: a dynamic program over reachable totals.

Why a dynamic program: a dose is made of a few lots with up to tens of vials
each, and the totals that matter (up to the top of the tolerance window) are
a few thousand integers once amounts are scaled and divided by their common
divisor (:mod:`optimizer.problem`).  Enumerating vial combinations grows as
the product of the lot counts (11^6 = 1.8 million for six lots of ten), while
the table of totals grows only with the order size, and each lot updates it
with a handful of whole-array numpy operations.

How: each lot of ``c`` vials is split into 0/1 items of 1, 2, 4, ... vials
(binary splitting, so ``log2(c)`` items per lot).  For every total ``t`` the
table keeps the cheapest way to reach it, cost = vials x B + expiry cost with
B larger than any expiry cost, i.e. fewest vials first, then earliest expiry.
A boolean mask per item records where taking it improved the table; walking
the items backwards from a total recovers the vial counts.

Because the rule's near set is a range of totals (within the resolution of
the least deviation, or of the least discard) and closeness depends only on
the total, the answer is the best (vials, closeness, over-not-under, expiry)
over the reachable totals in that range: exact, and proven optimal by
construction (every reachable total is considered).

The path applies when the table stays small (``MAX_TABLE`` totals, and
``MAX_CELLS`` items x totals for the masks); above that
:func:`optimizer.select` hands the problem to CP-SAT.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from fractions import Fraction

import numpy as np
import numpy.typing as npt

from optimizer.problem import Mode, Problem
from optimizer.result import Answer, Status

__all__ = [
    "MAX_CELLS",
    "MAX_TABLE",
    "Reusable",
    "binary_split",
    "fits",
    "needed_size",
    "solve",
    "solve_many",
    "window_totals",
]

MAX_TABLE = 2_000_000
#: Items x totals above which the path is not taken: its masks take one byte a
#: cell (200 MB at this limit), and CP-SAT handles such shelves in bounded memory.
MAX_CELLS = 200_000_000
_INF = np.int64(2**62)


def binary_split(count: int) -> list[int]:
    """``count`` vials as 0/1 items of 1, 2, 4, ... vials and the rest: every
    number from 0 to ``count`` is the sum of some of them (7 -> 1, 2, 4; 10 ->
    1, 2, 4, 3)."""
    items, chunk = [], 1
    while count > 0:
        take = min(chunk, count)
        items.append(take)
        count -= take
        chunk *= 2
    return items


def fits(problem: Problem, size: int) -> bool:
    """Whether a table of ``size`` totals for ``problem`` stays within the limits."""
    items = sum(count.bit_length() for count in problem.counts)  # len(binary_split(count))
    return size <= MAX_TABLE and items * size <= MAX_CELLS


class _Table:
    """Cheapest (vials, expiry) way to reach every total from 0 to size - 1."""

    def __init__(self, problem: Problem, size: int) -> None:
        self.problem = problem
        self.base = sum(problem.counts) * (max(problem.ranks, default=0)) + 1
        cost = np.full(size, _INF, dtype=np.int64)
        cost[0] = 0
        self.items: list[tuple[int, int, int]] = []  # (lot index, vials, weight)
        self.masks: list[npt.NDArray[np.bool_]] = []
        for index, (amount, count, rank) in enumerate(
            zip(problem.amounts, problem.counts, problem.ranks, strict=True)
        ):
            for take in binary_split(count):
                weight = take * amount
                if weight >= size:
                    continue
                candidate = cost[: size - weight] + take * (self.base + rank)
                better = candidate < cost[weight:]
                np.copyto(cost[weight:], candidate, where=better)
                self.items.append((index, take, weight))
                self.masks.append(better)
        self.cost = cost
        self.size = size

    def counts(self, total: int) -> tuple[int, ...]:
        counts = [0] * len(self.problem.amounts)
        for (index, take, weight), mask in zip(
            reversed(self.items), reversed(self.masks), strict=True
        ):
            if total >= weight and mask[total - weight]:
                counts[index] += take
                total -= weight
        assert total == 0, "backtracking must end at an empty selection"
        return tuple(counts)

    def reachable(self, start: int, stop: int) -> tuple[npt.NDArray[np.int64], ...]:
        """(totals, vials, expiry) of reachable totals in [start, stop) within the vial limit."""
        start = max(start, 0)
        stop = min(stop, self.size)
        if start >= stop:
            empty = np.empty(0, dtype=np.int64)
            return empty, empty, empty
        cost = self.cost[start:stop]
        vials = cost // self.base
        ok = (cost < _INF) & (vials <= self.problem.vial_limit)
        totals = np.flatnonzero(ok).astype(np.int64) + start
        return totals, vials[ok], cost[ok] % self.base


def solve(problem: Problem, mode: Mode) -> Answer | None:
    """Solve ``problem`` in ``mode`` (whole_vials or exact_dose); None if too large."""
    return solve_many([problem], mode)[0]


def solve_many(problems: Sequence[Problem], mode: Mode) -> list[Answer | None]:
    """Solve several problems in ``mode``; those on the same shelf (the same
    amounts, counts, expiry ranks and vial cap: the doses of one supply) share
    one table, as large as the largest of them needs.  None where too large."""
    answers: list[Answer | None] = [None] * len(problems)
    shelves: dict[tuple[object, ...], list[int]] = {}
    for i, problem in enumerate(problems):
        if not problem.amounts:
            answers[i] = Answer(Status.INFEASIBLE)
            continue
        key = (problem.amounts, problem.counts, problem.ranks, problem.max_vials, problem.scale)
        shelves.setdefault(key, []).append(i)
    for members in shelves.values():
        sizes = {i: _size(problems[i], mode) for i in members}
        fitting = [i for i in members if fits(problems[i], sizes[i])]
        if not fitting:
            continue
        table = _Table(problems[fitting[0]], max(sizes[i] for i in fitting))
        for i in fitting:
            answers[i] = _answer(problems[i], mode, table, sizes[i])
    return answers


class Reusable:
    """A table kept for one shelf and answered for many doses on it, as long as
    every one of them needs no more totals than it holds."""

    def __init__(self, problem: Problem, size: int) -> None:
        self.problem = problem
        self.table = _Table(problem, size)

    def answer(self, problem: Problem, mode: Mode) -> Answer | None:
        """``problem`` (the same shelf, retargeted) answered from the table, without
        alternatives; None when the table is too small for it."""
        size = _size(problem, mode)
        if size > self.table.size:
            return None
        return _answer(problem, mode, self.table, size, alternatives=False)


def needed_size(problem: Problem, mode: Mode) -> int:
    """How many totals a table for ``problem`` holds (see :func:`fits`)."""
    return _size(problem, mode)


def _size(problem: Problem, mode: Mode) -> int:
    """The totals the table needs: up to the window's top, or for an exact dose to
    the resolution beyond the largest total that can be the least one covering the
    dose (under any vial cap, the least covering total is below the target plus
    the largest vial: one vial fewer would still cover it otherwise)."""
    stock = problem.total(problem.counts)
    if mode is Mode.WHOLE_VIALS:
        top = problem.high
    else:
        top = problem.exact_floor + max(problem.amounts) - 1 + math.floor(problem.resolution)
    return min(top, stock) + 1


def _answer(
    problem: Problem, mode: Mode, table: _Table, size: int, *, alternatives: bool = True
) -> Answer:
    if mode is Mode.WHOLE_VIALS:
        totals, vials, expiry = table.reachable(problem.low, problem.high + 1)
    else:
        # every total covers the dose: the discard grows with the total
        totals, vials, expiry = table.reachable(problem.exact_floor, size)
    if not totals.size:
        return _nearest(problem, mode, table, problem.total(problem.counts), max(problem.amounts))
    best = _choose(problem, mode, totals, vials, expiry)
    assert best is not None
    chosen = table.counts(int(totals[best]))
    if not alternatives:
        return Answer(Status.OPTIMAL, chosen)
    closest = None
    if problem.resolution:
        strict = _choose(
            dataclasses.replace(problem, resolution=Fraction(0)), mode, totals, vials, expiry
        )
        if strict is not None and int(totals[strict]) != int(totals[best]):
            closest = table.counts(int(totals[strict]))
    front: list[tuple[int, ...]] = []
    seen: set[int] = set()
    for cap in range(1, int(vials[best])):
        index = _choose(problem, mode, totals, vials, expiry, cap)
        if index is not None and int(totals[index]) not in seen:
            seen.add(int(totals[index]))
            front.append(table.counts(int(totals[index])))
    return Answer(Status.OPTIMAL, chosen, tuple(front), closest=closest)


def _choose(
    problem: Problem,
    mode: Mode,
    totals: npt.NDArray[np.int64],
    vials: npt.NDArray[np.int64],
    expiry: npt.NDArray[np.int64],
    cap: int | None = None,
) -> int | None:
    """The index of the rule's answer among the reachable ``totals`` (each with its
    fewest vials and, among those, earliest expiry), using at most ``cap`` vials:
    the near set first (within the resolution of the least deviation or discard),
    then fewest vials, closeness, over-not-under, expiry."""
    allowed = np.ones(totals.size, dtype=bool) if cap is None else vials <= cap
    if not allowed.any():
        return None
    if mode is Mode.WHOLE_VIALS:
        rank, under = closeness(problem, totals)
        closest = int(totals[np.flatnonzero(allowed)[np.argmin(rank[allowed])]])
        low, high = problem.near_whole(closest)
        near = allowed & (totals >= low) & (totals <= high)
        keys: tuple[npt.NDArray[np.int64], ...] = (vials, rank, under, expiry)
    else:
        least = int(totals[allowed].min())
        near = allowed & (totals <= problem.near_exact(least))
        keys = (vials, totals, expiry)
    candidates = np.flatnonzero(near)
    order = np.lexsort(tuple(k[candidates] for k in reversed(keys)))
    return int(candidates[order[0]])


def closeness(
    problem: Problem, totals: npt.NDArray[np.int64]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """:meth:`Problem.closeness` of many totals at once: small integer ranks, so no
    product with the target's denominator can overflow."""
    target = problem.target
    floor = target.numerator // target.denominator
    twice = 2 * (target - floor)
    d = totals - floor
    over = d >= 1
    if twice == 0:
        return 2 * np.abs(d), (d < 0).astype(np.int64)
    k = np.where(over, d - 1, -d)
    under = (~over).astype(np.int64)
    if twice < 1:
        return 2 * k + over, under
    if twice == 1:
        return 2 * k, under
    return 2 * k + under, under


def window_totals(problem: Problem) -> list[int] | None:
    """Every total in the whole_vials window that the stock reaches within the vial
    limit, ignoring other doses (the supply model's domain per dose); None when
    the table would be too large."""
    size = min(problem.high, problem.total(problem.counts)) + 1
    if not problem.amounts or size <= problem.low:
        return []
    if not fits(problem, size):
        return None
    totals, _, _ = _Table(problem, size).reachable(problem.low, problem.high + 1)
    return [int(t) for t in totals]


def _nearest(problem: Problem, mode: Mode, table: _Table, stock: int, largest: int) -> Answer:
    """The nearest selections below and above what was asked, for an infeasible request."""
    low = problem.low if mode is Mode.WHOLE_VIALS else problem.exact_floor
    below = above = None
    totals, vials, expiry = table.reachable(1, low)
    if totals.size:
        # largest total, then fewest vials, then earliest expiry
        index = int(np.lexsort((expiry, vials, -totals))[0])
        below = table.counts(int(totals[index]))
    if mode is Mode.WHOLE_VIALS and stock > problem.high:
        size = min(problem.high + largest, stock) + 1
        if fits(problem, size):
            wider = _Table(problem, size)
            totals, vials, expiry = wider.reachable(problem.high + 1, size)
            if totals.size:
                index = int(np.lexsort((expiry, vials, totals))[0])
                above = wider.counts(int(totals[index]))
    return Answer(Status.INFEASIBLE, below=below, above=above)
