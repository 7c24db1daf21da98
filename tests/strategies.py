"""Hypothesis strategies shared by the tests."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from fractions import Fraction

from hypothesis import strategies as st

from optimizer import Lot

#: Unit amounts real codes use (docs/billing.md section 1): 1 IU, 50, 100, 250, 2,500.
WHOLE_UNIT_AMOUNTS = (1, 50, 100, 250, 2500)


def decimal_amounts(max_value: int = 10_000_000, places: int = 4) -> st.SearchStrategy[Decimal]:
    """Positive decimal amounts as a person types them (at most ``places`` decimals)."""
    return st.decimals(
        min_value=Decimal(1).scaleb(-places),
        max_value=max_value,
        places=places,
        allow_nan=False,
        allow_infinity=False,
    )


def amounts() -> st.SearchStrategy[Fraction]:
    """Exact positive amounts: whole numbers, exact multiples and decimals."""
    return st.one_of(
        st.integers(min_value=1, max_value=10**9).map(Fraction),
        st.builds(
            lambda k, u: Fraction(k * u), st.integers(1, 10**6), st.sampled_from(WHOLE_UNIT_AMOUNTS)
        ),
        decimal_amounts().map(Fraction),
    )


@st.composite
def shelves(
    draw: st.DrawFn, max_lots: int = 4, max_count: int = 4, decimals: bool = False
) -> tuple[Lot, ...]:
    """Small shelves of lots with potencies spread around nominal strengths."""
    n = draw(st.integers(1, max_lots))
    lots = []
    for i in range(n):
        nominal = draw(st.sampled_from((250, 500, 1000, 2000, 3000)))
        spread = draw(st.integers(-nominal // 10, nominal // 10))
        amount = Fraction(nominal + spread)
        if decimals:
            amount += Fraction(draw(st.integers(0, 9)), 10)
        expires = draw(st.none() | st.dates(min_value=dt.date(2001, 1, 1)))
        lots.append(Lot(f"L{i}", amount, draw(st.integers(0, max_count)), expires=expires))
    return tuple(lots)


#: Expiry dates for generated lots: few, so that lots share them and differ.
DATES = (dt.date(2027, 1, 31), dt.date(2027, 6, 30), dt.date(2028, 3, 31), None)


@st.composite
def tied_shelves(draw: st.DrawFn, decimals: bool = False) -> tuple[Lot, ...]:
    """Shelves made for ties: two to four lots whose potencies repeat and are
    multiples of one base (2 x 500 = 1 x 1,000), so that many selections share a
    total and differ only in vials or expiry."""
    base = Fraction(draw(st.integers(150, 1200)))
    if decimals:
        base += Fraction(draw(st.integers(1, 9)), 10)
    multiples = draw(st.sampled_from(((1, 2), (1, 2), (1, 3), (1, 2, 4), (2, 3), (3, 4), (1,))))
    lots = []
    for i in range(draw(st.integers(2, 4))):
        amount = base * draw(st.sampled_from(multiples))
        expires = draw(st.sampled_from(DATES))
        lots.append(Lot(f"L{i}", amount, draw(st.integers(1, 4)), expires=expires))
    if draw(st.booleans()):
        # one lot a little off the base: totals then come in close pairs (k x base
        # and k x base + offset) that take the same number of vials
        last = lots[-1]
        offset = Fraction(draw(st.integers(1, 40)), 1000) * base * draw(st.sampled_from((-1, 1)))
        lots[-1] = Lot(last.lot, last.amount + offset, last.count, expires=last.expires)
    return tuple(lots)


def reachable(lots: tuple[Lot, ...]) -> dict[Fraction, tuple[int, int]]:
    """Every positive total some selection of the lots' vials makes, with the
    fewest and the most vials that make it."""
    vials = {Fraction(0): (0, 0)}
    for lot in lots:
        grown: dict[Fraction, tuple[int, int]] = {}
        for total, (fewest, most) in vials.items():
            for k in range(lot.count + 1):
                low, high = grown.get(total + k * lot.amount, (fewest + k, most + k))
                grown[total + k * lot.amount] = (min(low, fewest + k), max(high, most + k))
        vials = grown
    del vials[Fraction(0)]
    return vials


@st.composite
def targets_near(draw: st.DrawFn, lots: tuple[Lot, ...]) -> tuple[Fraction, int]:
    """A target built from the shelf, and the most vials that reach it: a total
    that vials make in more than one way (a tie on closeness that the vial count
    or the expiry decides), a little off a total, or halfway between two
    neighbouring totals (a tie between over and under)."""
    made = reachable(lots)
    totals = sorted(made)
    kind = draw(st.sampled_from(("two ways", "two ways", "halfway", "off")))
    # neighbouring totals within 2% of their midpoint: both fit a window of 2% or more
    close = [i for i in range(1, len(totals)) if totals[i] - totals[i - 1] <= totals[i] / 25]
    if kind == "halfway" and close:
        i = draw(st.sampled_from(close))
        low, high = totals[i - 1], totals[i]
        return (low + high) / 2, max(made[low][1], made[high][1])
    several = [t for t in totals if made[t][0] != made[t][1]]
    if kind == "two ways" and several:
        total = draw(st.sampled_from(several))
        return total, made[total][1]
    total = draw(st.sampled_from(totals))
    offset = Fraction(draw(st.integers(-15, 15)), 1000) * total  # within ±1.5%
    return max(total + offset, Fraction(1)), made[total][1]
