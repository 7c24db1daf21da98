"""Brute force: every combination of vial counts, for tests and benchmarks.

The reference the engines are checked against.  It enumerates the product of
``range(count + 1)`` over the lots, so keep it to small inventories.  The rule
is :mod:`optimizer.problem`'s, applied literally: the least deviation (or
discard) first, then the best of the selections within the resolution of it.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

from optimizer.problem import Mode, Problem
from optimizer.result import Answer, Status

__all__ = ["combinations", "feasible", "objective", "solve"]


def combinations(problem: Problem) -> Iterator[tuple[int, ...]]:
    """Every vial-count vector within the vial limit."""
    limit = problem.vial_limit
    for counts in itertools.product(*(range(c + 1) for c in problem.counts)):
        if sum(counts) <= limit:
            yield counts


def feasible(problem: Problem, mode: Mode) -> list[tuple[int, ...]]:
    """Every selection that meets ``mode``'s window (or covers the exact dose)."""
    found = []
    for counts in combinations(problem):
        total = problem.total(counts)
        if mode is Mode.WHOLE_VIALS:
            if problem.low <= total <= problem.high:
                found.append(counts)
        elif total >= problem.target:
            found.append(counts)
    return found


def solve(problem: Problem, mode: Mode) -> Answer:
    """The optimum by enumeration; ``counts`` is one optimal selection."""
    candidates = feasible(problem, mode)
    if not candidates:
        return Answer(Status.INFEASIBLE)
    near = _near(problem, mode, candidates)
    best = min(near, key=lambda counts: objective(problem, mode, counts))
    return Answer(Status.OPTIMAL, best)


def _near(problem: Problem, mode: Mode, candidates: list[tuple[int, ...]]) -> list[tuple[int, ...]]:
    """The selections within the resolution of the least deviation (or discard)."""
    if mode is Mode.WHOLE_VIALS:
        least = min(abs(problem.total(c) - problem.target) for c in candidates)
        reach = least + problem.resolution
        return [c for c in candidates if abs(problem.total(c) - problem.target) <= reach]
    least = min(problem.total(c) - problem.target for c in candidates)
    reach = least + problem.resolution
    return [c for c in candidates if problem.total(c) - problem.target <= reach]


def objective(problem: Problem, mode: Mode, counts: tuple[int, ...]) -> tuple[object, ...]:
    """The order among near selections of ``counts`` in ``mode`` (see
    :mod:`optimizer.problem`); compare only selections of one near set."""
    total, vials, expiry = problem.total(counts), sum(counts), problem.expiry_cost(counts)
    if mode is Mode.WHOLE_VIALS:
        return problem.whole_key(total, vials, expiry)
    return problem.exact_key(total, vials, expiry)


def alternatives(problem: Problem, mode: Mode, chosen_vials: int) -> list[tuple[int, ...]]:
    """For each vial cap below ``chosen_vials``, the rule's answer under that cap;
    each distinct selection once, fewest vials first."""
    import dataclasses

    found: list[tuple[int, ...]] = []
    for cap in range(1, chosen_vials):
        limit = cap if problem.max_vials is None else min(cap, problem.max_vials)
        answer = solve(dataclasses.replace(problem, max_vials=limit), mode)
        totals = {problem.total(f) for f in found}
        if answer.counts is not None and problem.total(answer.counts) not in totals:
            found.append(answer.counts)
    return found
