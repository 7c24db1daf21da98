"""Brute force: every combination of vial counts, for tests and benchmarks.

The reference the engines are checked against.  It enumerates the product of
``range(count + 1)`` over the lots, so keep it to small inventories.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

from optimizer.problem import Mode, Problem
from optimizer.result import Answer, Status

__all__ = ["combinations", "objective", "solve"]


def combinations(problem: Problem) -> Iterator[tuple[int, ...]]:
    """Every vial-count vector within the vial limit."""
    limit = problem.vial_limit
    for counts in itertools.product(*(range(c + 1) for c in problem.counts)):
        if sum(counts) <= limit:
            yield counts


def solve(problem: Problem, mode: Mode) -> Answer:
    """The optimum by enumeration; ``counts`` is one optimal selection."""
    best = None
    best_key: tuple[object, ...] | None = None
    for counts in combinations(problem):
        total = problem.total(counts)
        vials = sum(counts)
        expiry = problem.expiry_cost(counts)
        key: tuple[object, ...]
        if mode is Mode.WHOLE_VIALS:
            if not problem.low <= total <= problem.high:
                continue
            key = problem.whole_key(total, vials, expiry)
        else:
            if total < problem.target:
                continue
            key = problem.exact_key(total, vials, expiry)
        if best_key is None or key < best_key:
            best, best_key = counts, key
    if best is None:
        return Answer(Status.INFEASIBLE)
    return Answer(Status.OPTIMAL, best)


def objective(problem: Problem, mode: Mode, counts: tuple[int, ...]) -> tuple[object, ...]:
    """The objective key of ``counts`` in ``mode`` (see :mod:`optimizer.problem`)."""
    total, vials, expiry = problem.total(counts), sum(counts), problem.expiry_cost(counts)
    if mode is Mode.WHOLE_VIALS:
        return problem.whole_key(total, vials, expiry)
    return problem.exact_key(total, vials, expiry)
