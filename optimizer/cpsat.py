"""The general engine: the selection problem as a CP-SAT model (OR-Tools).

Variables: ``x[i]`` in ``0..count[i]`` vials of lot ``i``, over the scaled
integer amounts of :class:`optimizer.problem.Problem`, so the model is exact.

The rule of :mod:`optimizer.problem` is solved lexicographically, one key a
solve, so that no weight ever multiplies a large number (a target with fifteen
decimals, or potencies with many, make the amounts and the target's
denominator large):

1. the least deviation alone: for whole_vials the closeness rank of
   :meth:`Problem.closeness` (``2k`` or ``2k + 1`` with ``k`` whole units
   from the target's floor, linear in the total once a Boolean says on which
   side of the target it lies); for exact_dose the total (the discard grows
   with it).  Its total bounds the near set (:meth:`Problem.near_whole`,
   :meth:`Problem.near_exact`), added as constraints on the total;
2. fewest vials, held; 3. closeness (or the total), held; 4. ``under x W3 +
   expiry`` (``W3 = E + 1``, E the largest expiry cost), or the expiry cost.

The nearest selections of an infeasible request take two solves: the distance
to the window, then ``vials x 2 W3 + under x W3 + expiry``.

Every solve has what is left of one deadline.  One worker by default, and a
deterministic-time limit beside the wall-clock one, so that the same input
gives the same selection unless the wall clock runs out first.  Every solver
status is mapped to :class:`optimizer.result.Status` (OPTIMAL is proven,
FEASIBLE is the best found when time ran out, UNKNOWN is nothing found in
time, MODEL_INVALID is a bug and raises).

Models whose scaled stock does not fit CP-SAT's 64-bit arithmetic (thousands
of lots whose potencies carry many decimals) are refused with
:class:`~optimizer.errors.FieldError` before they are built.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any, Literal

from optimizer.errors import FieldError, SolverError
from optimizer.problem import Mode, Problem
from optimizer.result import Answer, Status

__all__ = ["DEFAULT_TIME_LIMIT", "MAX_MAGNITUDE", "set_limits", "solve"]

DEFAULT_TIME_LIMIT = 10.0
#: The largest scaled stock (and target) a model is built for: CP-SAT checks
#: that no linear expression can overflow 64 bits, with room to spare.
MAX_MAGNITUDE = 2**56
Goal = Literal["whole", "exact", "below", "above"]


def solve(
    problem: Problem,
    mode: Mode,
    *,
    time_limit: float = DEFAULT_TIME_LIMIT,
    deadline: float | None = None,
    workers: int = 1,
    alternatives: bool = True,
) -> Answer:
    """Solve ``problem`` in ``mode`` with CP-SAT, within ``time_limit`` seconds or
    by ``deadline`` (a :func:`time.monotonic` instant), whichever is sooner."""
    check_magnitude(problem)
    end = time.monotonic() + time_limit
    clock = _Clock(end if deadline is None else min(end, deadline))
    goal: Goal = "whole" if mode is Mode.WHOLE_VIALS else "exact"
    status, counts = _optimize(problem, goal, clock, workers)
    if counts is None:
        if status is not Status.INFEASIBLE:
            return Answer(status)
        below = _optimize(problem, "below", clock, workers, mode)[1]
        above = None
        if mode is Mode.WHOLE_VIALS:
            above = _optimize(problem, "above", clock, workers)[1]
        return Answer(Status.INFEASIBLE, below=below, above=above)
    front: list[tuple[int, ...]] = []
    if alternatives:
        # For each vial cap below the chosen count, the rule's answer under that cap
        # (each distinct one once); the rule's near set depends on the cap, so
        # every cap is asked, fewest first.
        for limit in range(1, sum(counts)):
            if clock.left() <= 0:  # the alternatives are a courtesy
                break
            smaller = dataclasses.replace(problem, max_vials=limit)
            state, found = _optimize(smaller, goal, clock, workers)
            if found is not None and state is not Status.OPTIMAL:
                break  # time ran out: only proven ones are shown
            if found is not None and problem.total(found) not in {problem.total(f) for f in front}:
                front.append(found)
    return Answer(status, counts, tuple(front))


def check_magnitude(problem: Problem) -> None:
    """Refuse a problem whose scaled numbers CP-SAT cannot hold exactly."""
    stock = problem.total(problem.counts)
    floor = problem.target.numerator // problem.target.denominator
    if max(stock, floor, problem.high) > MAX_MAGNITUDE:
        raise FieldError(
            "lots",
            "potencies with fewer decimal places between them (their common scale "
            "makes the stock too large to compare exactly)",
            f"a stock of {stock:.3g} scaled units",
        )


@dataclasses.dataclass(frozen=True)
class _Clock:
    """What is left of one time budget ending at ``end`` (a monotonic instant)."""

    end: float

    def left(self) -> float:
        return self.end - time.monotonic()


def _optimize(
    problem: Problem, goal: Goal, clock: _Clock, workers: int, mode: Mode = Mode.WHOLE_VIALS
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
    stock = problem.total(problem.counts)
    under: Any = 0
    first: Any
    if goal == "whole":
        model.add(total >= problem.low)
        model.add(total <= problem.high)
        first, under = _closeness(model, problem, total, stock)
    elif goal == "exact":
        model.add(total >= problem.exact_floor)
        first = total
    elif goal == "below":
        # the largest total under the window (whole_vials) or the target (exact_dose)
        ceiling = (problem.low if mode is Mode.WHOLE_VIALS else problem.exact_floor) - 1
        model.add(total <= ceiling)
        model.add(total >= 1)
        first = ceiling - total
    else:  # above
        model.add(total >= problem.high + 1)
        first = total
    w3 = problem.expiry_cost(problem.counts) + 1
    stages: list[Any]
    if goal == "whole":  # closest first; then within the near set vials, closeness, the rest
        stages = [first, vials, first, under * w3 + expiry]
    elif goal == "exact":  # least discard first; then within the near set the same
        stages = [first, vials, first, expiry]
    else:
        stages = [first, vials * (2 * w3) + under * w3 + expiry]
    proven = True
    values: list[int] = []
    for index, objective in enumerate(stages):
        if values:
            model.clear_hints()  # type: ignore[no-untyped-call]  # hinted twice: invalid
            for v, value in zip(x, values, strict=True):
                model.add_hint(v, value)
        status, solver = _run(model, objective, clock, workers)
        if index == 0 and status not in (Status.OPTIMAL, Status.FEASIBLE):
            return status, None
        if status is Status.INFEASIBLE:  # the previous solve's selection satisfies it
            raise SolverError("CP-SAT found no selection its own earlier solve had found (a bug)")
        if status not in (Status.OPTIMAL, Status.FEASIBLE):
            proven = False
            break  # time ran out: the previous stage's selection stands
        proven = proven and status is Status.OPTIMAL
        values = [int(solver.value(v)) for v in x]
        reached = problem.total(values)
        if index == 0 and goal == "whole":
            low, high = problem.near_whole(reached)
            model.add(total >= low)
            model.add(total <= high)
        elif index == 0 and goal == "exact":
            model.add(total <= problem.near_exact(reached))
        else:
            model.add(objective == int(solver.value(objective)))  # exact; the bound is a double
        if not proven:
            break
    return (Status.OPTIMAL if proven else Status.FEASIBLE), tuple(values)


def _closeness(model: Any, problem: Problem, total: Any, stock: int) -> tuple[Any, Any]:
    """The closeness rank of :meth:`Problem.closeness` and the under flag, as
    linear expressions of ``total``: ``d = total - floor``; ``over`` is
    ``d >= 1``; ``k`` is ``d - 1`` above and ``-d`` below."""
    target = problem.target
    floor = target.numerator // target.denominator
    twice = 2 * (target - floor)
    over = model.new_bool_var("over")
    model.add(total >= floor + 1).only_enforce_if(over)
    model.add(total <= floor).only_enforce_if(~over)
    k = model.new_int_var(0, max(stock, floor) + 1, "k")
    model.add(k == total - floor - 1).only_enforce_if(over)
    model.add(k == floor - total).only_enforce_if(~over)
    if twice == 0:
        # a whole target: |d| is k + 1 above and k below; under when d < 0
        below = model.new_bool_var("below")
        model.add(total <= floor - 1).only_enforce_if(below)
        model.add(total >= floor).only_enforce_if(~below)
        return 2 * k + 2 * over, below
    under = ~over
    if twice < 1:
        return 2 * k + over, under
    if twice == 1:
        return 2 * k, under
    return 2 * k + under, under


def set_limits(solver: Any, seconds: float, workers: int) -> None:
    """``workers`` search workers and ``seconds`` on the wall clock; with one worker
    the same number of deterministic seconds too, so that the same model gets the
    same answer on every run whatever the machine's load, unless the wall clock
    runs out first (on a machine far slower than its deterministic time assumes)."""
    solver.parameters.num_workers = workers
    solver.parameters.max_time_in_seconds = seconds
    if workers == 1:
        solver.parameters.max_deterministic_time = seconds


def _run(model: Any, objective: Any, clock: _Clock, workers: int) -> tuple[Status, Any]:
    from ortools.sat.python import cp_model

    model.minimize(objective)
    solver = cp_model.CpSolver()
    set_limits(solver, max(clock.left(), 0.001), workers)
    code = solver.solve(model)
    if code == cp_model.OPTIMAL:
        return Status.OPTIMAL, solver
    if code == cp_model.FEASIBLE:
        return Status.FEASIBLE, solver
    if code == cp_model.INFEASIBLE:
        return Status.INFEASIBLE, solver
    if code == cp_model.UNKNOWN:
        return Status.UNKNOWN, solver
    raise SolverError(f"CP-SAT rejected the model: {solver.status_name(code)}")
