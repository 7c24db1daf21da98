"""The exact fast path, the CP-SAT model and brute force agree on every instance.

Agreement is on the rule (docs/design.md "Selection rules": the near set within
the resolution of the least deviation or discard, then vials, closeness,
over-not-under, expiry cost), which is what "optimal" means; two optimal
selections may differ only where the rule cannot tell them apart.  Resolutions
are drawn from 0 (closeness first, the rule before resolutions) to 5%.
"""

from __future__ import annotations

import dataclasses
from fractions import Fraction

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from optimizer import Lot, Mode, Tolerance, brute, cpsat, exact
from optimizer.problem import Problem
from optimizer.result import Answer, Status
from tests.strategies import shelves, targets_near, tied_shelves

MODES = (Mode.WHOLE_VIALS, Mode.EXACT_DOSE)
RESOLUTIONS = st.sampled_from(
    (Fraction(0), Fraction(0), Fraction(1, 2), Fraction(1), Fraction(2), Fraction(5))
)


@st.composite
def problems(draw: st.DrawFn, decimals: bool = False) -> Problem:
    """Three in four examples are built to be feasible and tied (a target from the
    shelf's own totals, repeated potencies, shared expiry dates, sometimes a vial
    cap that every way of making the target meets); the rest are random."""
    if draw(st.integers(0, 3)):
        lots = draw(tied_shelves(decimals=decimals))
        target, vials = draw(targets_near(lots))
        tolerance = Tolerance(draw(st.sampled_from((2, 5, 10))), draw(st.sampled_from((2, 5, 10))))
        return Problem.build(
            target,
            lots,
            tolerance,
            draw(st.sampled_from((None, vials, vials + 1))),
            draw(RESOLUTIONS),
        )
    lots = draw(shelves(max_lots=4, max_count=4, decimals=decimals))
    target = Fraction(draw(st.integers(200, 9000)))
    if decimals:
        target += Fraction(draw(st.integers(0, 99)), 100)
    tolerances = st.sampled_from((0, 1, 2, 5, 10))
    tolerance = Tolerance(draw(tolerances), draw(tolerances))
    return Problem.build(
        target, lots, tolerance, draw(st.none() | st.integers(1, 6)), draw(RESOLUTIONS)
    )


def feasible_keys(problem: Problem, mode: Mode) -> list[tuple[object, ...]]:
    """The objective key of every feasible selection, by enumeration."""
    keys = []
    for counts in brute.combinations(problem):
        total = problem.total(counts)
        if mode is Mode.WHOLE_VIALS:
            feasible = problem.low <= total <= problem.high
        else:
            feasible = total >= problem.target
        if feasible:
            keys.append(brute.objective(problem, mode, counts))
    return keys


def record(problem: Problem, mode: Mode) -> None:
    """Say, for hypothesis's statistics, whether the example is feasible and whether
    the resolution changes the pick (``pytest --hypothesis-show-statistics``)."""
    answer = brute.solve(problem, mode)
    if answer.counts is None:
        event(f"{mode.value}: infeasible")
        return
    event(f"{mode.value}: feasible")
    strict = brute.solve(dataclasses.replace(problem, resolution=Fraction(0)), mode)
    if strict.counts is not None and sum(strict.counts) != sum(answer.counts):
        event(f"{mode.value}: the resolution saves vials")


def key(problem: Problem, mode: Mode, answer: Answer) -> object:
    """The rule's key of an answer: in the near set or not, then the order in it."""
    if answer.counts is None:
        return answer.status
    assert problem.total(answer.counts) >= 0
    near = brute._near(problem, mode, brute.feasible(problem, mode))
    inside = any(problem.total(c) == problem.total(answer.counts) for c in near)
    return (not inside, *brute.objective(problem, mode, answer.counts))


def check_feasible(problem: Problem, mode: Mode, counts: tuple[int, ...]) -> None:
    assert all(0 <= c <= limit for c, limit in zip(counts, problem.counts, strict=True))
    assert sum(counts) <= problem.vial_limit
    total = problem.total(counts)
    if mode is Mode.WHOLE_VIALS:
        assert problem.low <= total <= problem.high
    else:
        assert total >= problem.target


@given(problems(), st.sampled_from(MODES))
def test_fast_path_matches_brute_force(problem: Problem, mode: Mode) -> None:
    record(problem, mode)
    fast = exact.solve(problem, mode)
    assert fast is not None
    reference = brute.solve(problem, mode)
    assert key(problem, mode, fast) == key(problem, mode, reference)
    if fast.counts is not None:
        check_feasible(problem, mode, fast.counts)


@given(problems(decimals=True), st.sampled_from(MODES))
def test_fast_path_matches_brute_force_with_decimal_potencies(problem: Problem, mode: Mode) -> None:
    fast = exact.solve(problem, mode)
    assert fast is not None
    assert key(problem, mode, fast) == key(problem, mode, brute.solve(problem, mode))


@pytest.mark.slow
@settings(max_examples=80)
@given(problems(), st.sampled_from(MODES))
def test_cpsat_matches_brute_force_and_fast_path(problem: Problem, mode: Mode) -> None:
    record(problem, mode)
    model = cpsat.solve(problem, mode, alternatives=False)
    assert model.status in (Status.OPTIMAL, Status.INFEASIBLE)
    reference = brute.solve(problem, mode)
    assert key(problem, mode, model) == key(problem, mode, reference)
    fast = exact.solve(problem, mode)
    assert fast is not None and key(problem, mode, fast) == key(problem, mode, model)


@st.composite
def many_vial_problems(draw: st.DrawFn) -> Problem:
    """Orders made of several small vials, on a shelf that also has large ones of
    spread potencies, in a wide window: fewer, larger vials often fit too, a
    little further from the order, so the alternatives have something to show."""
    lots = []
    for i, nominal in enumerate((250, 500, 1000, 2000)):
        spread = Fraction(draw(st.integers(-80, 80)), 1000)
        lots.append(Lot(f"L{i}", Fraction(nominal) * (1 + spread), draw(st.integers(1, 4))))
    small = [draw(st.integers(1, lot.count)) for lot in lots[:2]]
    total = sum((lot.amount * n for lot, n in zip(lots, small, strict=False)), Fraction(0))
    target = total * (1 + Fraction(draw(st.integers(-20, 20)), 1000))
    return Problem.build(target, lots, Tolerance(10, 10), draw(st.sampled_from((None, 6))))


def pareto_front(problem: Problem, mode: Mode, vials: int) -> list[tuple[object, ...]]:
    """By brute force: for each vial cap below ``vials``, the rule's answer under
    that cap, each distinct one once, fewest vials first."""
    return [brute.objective(problem, mode, c) for c in brute.alternatives(problem, mode, vials)]


@given(st.one_of(problems(), many_vial_problems(), many_vial_problems()), st.sampled_from(MODES))
def test_alternatives_are_the_pareto_front(problem: Problem, mode: Mode) -> None:
    """For each smaller vial cap, the rule's answer under it, each distinct one once."""
    fast = exact.solve(problem, mode)
    assert fast is not None
    event("feasible" if fast.counts else "infeasible")
    if fast.counts is None:
        return
    expected = pareto_front(problem, mode, sum(fast.counts))
    event("some alternatives" if expected else "no alternative")
    assert [brute.objective(problem, mode, c) for c in fast.alternatives] == expected


@pytest.mark.slow
@settings(max_examples=60)
@given(st.one_of(problems(), many_vial_problems(), many_vial_problems()), st.sampled_from(MODES))
def test_cpsat_alternatives_are_the_pareto_front(problem: Problem, mode: Mode) -> None:
    model = cpsat.solve(problem, mode)
    event("feasible" if model.counts else "infeasible")
    if model.counts is None:
        return
    expected = pareto_front(problem, mode, sum(model.counts))
    event("some alternatives" if expected else "no alternative")
    assert [brute.objective(problem, mode, c) for c in model.alternatives] == expected


def test_large_tables_fall_back_to_cpsat() -> None:
    lots = [Lot("A", Fraction("1000.001"), 3), Lot("B", Fraction("999.999"), 3)]
    problem = Problem.build(Fraction(3000), lots, Tolerance(1, 1), None)
    assert exact.solve(problem, Mode.WHOLE_VIALS) is None  # 3 million-entry table
    answer = cpsat.solve(problem, Mode.WHOLE_VIALS)
    assert answer.status is Status.OPTIMAL and answer.counts is not None
    # 2 x 1,000.001 + 999.999 and 1,000.001 + 2 x 999.999 are both 0.001 away: over wins the tie
    assert problem.total(answer.counts) * problem.scale == Fraction("3000.001")
