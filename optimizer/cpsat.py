"""The general engine: the selection problem as a CP-SAT model (OR-Tools).

Variables: ``x[i]`` in ``0..count[i]`` vials of lot ``i``.  Amounts are the
scaled integers of :class:`optimizer.problem.Problem`, so the model is exact.
With the target ``T = num / den``, ``gap = den x total - num`` is an integer.

whole_vials: ``low <= total <= high``; minimize, lexicographically through
weights that cannot overlap,
``|gap| x W1 + vials x W2 + [gap < 0] x W3 + expiry`` with
``W3 = E + 1`` (E the largest expiry cost), ``W2 = 2 x W3`` and
``W1 = (V + 1) x W2`` (V the most vials).

exact_dose: ``gap >= 0``; minimize ``gap x W1 + vials x W2 + expiry``.

One worker by default, so that the same input gives the same selection, and
a time limit; every solver status is mapped to :class:`optimizer.result.Status`
(OPTIMAL is proven, FEASIBLE is the best found when time ran out, UNKNOWN is
nothing found in time, MODEL_INVALID is a bug and raises).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Literal

from optimizer.errors import SolverError
from optimizer.problem import Mode, Problem
from optimizer.result import Answer, Status

__all__ = ["DEFAULT_TIME_LIMIT", "solve"]

DEFAULT_TIME_LIMIT = 10.0
Goal = Literal["whole", "exact", "below", "above"]


def solve(
    problem: Problem,
    mode: Mode,
    *,
    time_limit: float = DEFAULT_TIME_LIMIT,
    workers: int = 1,
    alternatives: bool = True,
) -> Answer:
    """Solve ``problem`` in ``mode`` with CP-SAT."""
    goal: Goal = "whole" if mode is Mode.WHOLE_VIALS else "exact"
    status, counts = _optimize(problem, goal, time_limit, workers)
    if counts is None:
        if status is not Status.INFEASIBLE:
            return Answer(status)
        below = _optimize(problem, "below", time_limit, workers, mode)[1]
        above = None
        if mode is Mode.WHOLE_VIALS:
            above = _optimize(problem, "above", time_limit, workers)[1]
        return Answer(Status.INFEASIBLE, below=below, above=above)
    front: list[tuple[int, ...]] = []
    if alternatives:
        best_gap: int | None = None
        for limit in range(1, sum(counts)):
            smaller = dataclasses.replace(problem, max_vials=limit)
            found = _optimize(smaller, goal, time_limit, workers)[1]
            if found is None:
                continue
            gap = abs(problem.total(found) * problem.target.denominator - problem.target.numerator)
            if best_gap is not None and gap >= best_gap:
                continue
            best_gap = gap
            front.append(found)
    return Answer(status, counts, tuple(front))


def _optimize(
    problem: Problem, goal: Goal, time_limit: float, workers: int, mode: Mode = Mode.WHOLE_VIALS
) -> tuple[Status, tuple[int, ...] | None]:
    from ortools.sat.python import cp_model  # imported here: slow to load, rarely needed

    if not problem.amounts:
        return Status.INFEASIBLE, None
    model = cp_model.CpModel()
    x = [model.new_int_var(0, count, f"x{i}") for i, count in enumerate(problem.counts)]
    total = sum(a * xi for a, xi in zip(problem.amounts, x, strict=True))
    vials = sum(x)
    expiry = sum(r * xi for r, xi in zip(problem.ranks, x, strict=True))
    model.add(vials <= problem.vial_limit)
    num, den = problem.target.numerator, problem.target.denominator
    stock = problem.total(problem.counts)
    gap_bound = stock * den + num
    gap = model.new_int_var(-num, gap_bound, "gap")
    model.add(gap == den * total - num)
    w3 = problem.expiry_cost(problem.counts) + 1
    w2 = 2 * w3
    w1 = (sum(problem.counts) + 1) * w2
    objective: Any
    if goal == "whole":
        model.add(total >= problem.low)
        model.add(total <= problem.high)
        distance = model.new_int_var(0, gap_bound, "distance")
        model.add_abs_equality(distance, gap)
        under = model.new_bool_var("under")
        model.add(gap < 0).only_enforce_if(under)
        model.add(gap >= 0).only_enforce_if(~under)
        objective = distance * w1 + vials * w2 + under * w3 + expiry
    elif goal == "exact":
        model.add(gap >= 0)
        objective = gap * w1 + vials * w2 + expiry
    elif goal == "below":
        # the largest total under the window (whole_vials) or the target (exact_dose)
        ceiling = (problem.low if mode is Mode.WHOLE_VIALS else problem.exact_floor) - 1
        model.add(total <= ceiling)
        model.add(total >= 1)
        objective = (ceiling - total) * w1 + vials * w2 + expiry
    else:  # above
        model.add(total >= problem.high + 1)
        objective = (total - problem.high - 1) * w1 + vials * w2 + expiry
    model.minimize(objective)
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = workers
    solver.parameters.max_time_in_seconds = time_limit
    code = solver.solve(model)
    if code == cp_model.OPTIMAL:
        status = Status.OPTIMAL
    elif code == cp_model.FEASIBLE:
        status = Status.FEASIBLE
    elif code == cp_model.INFEASIBLE:
        return Status.INFEASIBLE, None
    elif code == cp_model.UNKNOWN:
        return Status.UNKNOWN, None
    else:  # MODEL_INVALID: the model is ours, so this is a bug
        raise SolverError(f"CP-SAT rejected the model: {solver.status_name(code)}")
    return status, tuple(int(solver.value(v)) for v in x)
