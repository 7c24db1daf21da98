"""``optimizer.select`` against an oracle that shares none of its code (tests/oracle.py).

The engines' own brute force (``optimizer.brute``) solves the same scaled
:class:`~optimizer.problem.Problem`; an error in the scaling, the window's
rounding or the expiry ranks would be invisible to it.  Here the answer of
``select`` is compared, in the caller's units, with the optimum of every
selection enumerated from the documented rules.
"""

from __future__ import annotations

import datetime as dt
from fractions import Fraction

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from optimizer import Lot, Status, select
from tests import oracle
from tests.strategies import shelves, targets_near, tied_shelves

MODES = ("whole_vials", "exact_dose")


@st.composite
def orders(draw: st.DrawFn) -> tuple[Fraction, tuple[Lot, ...], Fraction, Fraction, int | None]:
    """Mostly orders built to be feasible and tied, some random (as test_engines)."""
    if draw(st.integers(0, 3)):
        lots = draw(tied_shelves(decimals=draw(st.booleans())))
        target, most = draw(targets_near(lots))
        tolerances = st.sampled_from((Fraction(2), Fraction(5), Fraction("7.5"), Fraction(10)))
        cap = draw(st.sampled_from((None, None, most)))
    else:
        lots = draw(shelves(max_lots=4, max_count=3, decimals=draw(st.booleans())))
        target = Fraction(draw(st.integers(200, 9000)), draw(st.sampled_from((1, 10, 3))))
        tolerances = st.sampled_from((Fraction(0), Fraction(1), Fraction(5), Fraction(10)))
        cap = draw(st.none() | st.integers(1, 5))
    return target, lots, draw(tolerances), draw(tolerances), cap


#: Dates of service: none, before every generated expiry, and after the first.
DAYS = (None, dt.date(2027, 1, 15), dt.date(2027, 3, 1))


#: Resolutions, percent of the order: 0 is the rule before resolutions, 1 the default.
RESOLUTIONS = (Fraction(0), Fraction(1, 2), Fraction(1), Fraction(1), Fraction(2), Fraction(5))


@settings(max_examples=200)
@given(
    orders(),
    st.sampled_from(MODES),
    st.sampled_from(("exact", "cpsat")),
    st.sampled_from(DAYS),
    st.sampled_from(RESOLUTIONS),
)
def test_select_is_optimal_by_the_documented_rules(
    order: tuple[Fraction, tuple[Lot, ...], Fraction, Fraction, int | None],
    mode: str,
    engine: str,
    day: dt.date | None,
    resolution: Fraction,
) -> None:
    target, lots, under, over, cap = order
    result = select(
        target,
        lots,
        tolerance=(under, over),
        mode=mode,
        max_vials=cap,
        as_of=day,
        engine=engine,
        resolution_pct=resolution,
    )
    shelf = oracle.usable(lots, day)
    best = oracle.best(
        target, shelf, mode, under=under, over=over, max_vials=cap, resolution_pct=resolution
    )
    event(f"{mode}: {'feasible' if best is not None else 'infeasible'}")
    if best is None:
        assert result.status is Status.INFEASIBLE and result.selection is None
        return
    assert result.status is Status.OPTIMAL and result.selection is not None
    chosen = oracle.counts_of(shelf, result.selection.counts_by_lot())
    assert oracle.key(target, shelf, chosen, mode) == best
    assert result.selection.total == oracle.total(shelf, chosen)
    assert all(n <= lot.count for n, lot in zip(chosen, shelf, strict=True))


@pytest.mark.parametrize("engine", ["exact", "cpsat"])
def test_equal_dates_share_a_rank_with_no_gap_after_them(engine: str) -> None:
    """docs/design.md: equal dates share a rank, and the next date is the next rank.
    Three lots expire first (rank 0), "mid" next (rank 1), "late" last (rank 2).
    3,000 IU in three vials is 3 x mid (expiry cost 3) or 2 x late + 1 x a (cost 4):
    mid wins.  Ranks with gaps after the shared date (0, 0, 0, 3, 4) would cost
    9 against 8 and choose the other."""
    lots = [
        Lot("a", 600, 1, expires=dt.date(2027, 1, 31)),
        Lot("b", 50, 1, expires=dt.date(2027, 1, 31)),
        Lot("c", 70, 1, expires=dt.date(2027, 1, 31)),
        Lot("mid", 1000, 3, expires=dt.date(2027, 6, 30)),
        Lot("late", 1200, 2, expires=dt.date(2028, 1, 31)),
    ]
    result = select(3000, lots, tolerance=0, mode="whole_vials", engine=engine)
    assert result.selection is not None
    assert result.selection.counts_by_lot() == {"mid": 3}
    assert oracle.ranks(lots) == [0, 0, 0, 1, 2]


@st.composite
def gaps(draw: st.DrawFn) -> tuple[tuple[Lot, ...], Fraction, Fraction, Fraction, Fraction]:
    """An order halfway between two neighbouring totals of the shelf, with a window
    narrower than the gap: infeasible by construction, the neighbours its nearest."""
    lots = draw(shelves(max_lots=3, max_count=3, decimals=draw(st.booleans())))
    lots = (*lots, Lot("extra", lots[0].amount, 1))  # at least one vial on the shelf
    totals = sorted(reachable(lots))
    i = draw(st.integers(0, len(totals) - 1))
    low = totals[i - 1] if i > 0 else Fraction(0)
    high = totals[i]
    target = (low + high) / 2
    # half the gap, as a percentage of the target, bounds the tolerance
    room = (high - low) / 2 / target * 100
    tolerance = room * Fraction(draw(st.integers(0, 99)), 100)
    return lots, target, tolerance, low, high


def reachable(lots: tuple[Lot, ...]) -> set[Fraction]:
    totals = {Fraction(0)}
    for lot in lots:
        totals = {t + k * lot.amount for t in totals for k in range(lot.count + 1)}
    return totals - {Fraction(0)}


@settings(max_examples=120)
@given(gaps(), st.sampled_from(("exact", "cpsat")))
def test_an_order_between_two_totals_offers_both(
    case: tuple[tuple[Lot, ...], Fraction, Fraction, Fraction, Fraction], engine: str
) -> None:
    lots, target, tolerance, low, high = case
    if tolerance >= 100:  # a gap wider than the order itself: no window that narrow
        tolerance = Fraction(99)
    result = select(target, lots, tolerance=tolerance, mode="whole_vials", engine=engine)
    assert result.status is Status.INFEASIBLE and result.selection is None
    assert (result.below.total if result.below else Fraction(0)) == low
    assert result.above is not None and result.above.total == high
