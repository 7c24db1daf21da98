"""Hypothesis strategies shared by the tests."""

from __future__ import annotations

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
        expires = draw(st.none() | st.dates().filter(lambda d: d.year > 2000))
        lots.append(Lot(f"L{i}", amount, draw(st.integers(0, max_count)), expires=expires))
    return tuple(lots)
