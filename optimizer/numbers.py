"""Exact numbers at the edge.

Amounts (IU, mcg, mg) and percentages are held as :class:`fractions.Fraction`
so that 72.5 x 50 is 3,625 and 3,000 / 250 is 12 with no float error.  A float
is read as the decimal it prints as (``1950.4`` is 19504/10, not the binary
value nearest to it), which is what the person who typed it meant.
"""

from __future__ import annotations

import math
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from numbers import Rational
from typing import Protocol

from optimizer.errors import FieldError

__all__ = [
    "as_fraction",
    "ceil_div",
    "floor_div",
    "format_amount",
    "parse_number",
    "to_json_number",
]


class ErrorFactory(Protocol):
    """An error class taking (field, expected, got), like :class:`FieldError`."""

    def __call__(self, field: str, expected: str, got: object) -> Exception: ...


def as_fraction(value: object, field: str, *, error: ErrorFactory = FieldError) -> Fraction:
    """``value`` as an exact, finite :class:`Fraction`; anything else is refused.

    Text is refused here (use :func:`parse_number` for text from a file), and
    so are booleans, which Python would otherwise treat as 0 and 1.
    """
    if isinstance(value, bool) or value is None:
        raise error(field, "a number", value)
    if isinstance(value, Fraction):
        return value
    if isinstance(value, int):
        return Fraction(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise error(field, "a finite number", value)
        return Fraction(repr(value))
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise error(field, "a finite number", value)
        return Fraction(value)
    if isinstance(value, Rational):
        return Fraction(int(value.numerator), int(value.denominator))
    item = getattr(value, "item", None)  # numpy scalars
    if callable(item) and not isinstance(value, str):
        return as_fraction(item(), field, error=error)
    if isinstance(value, str):
        raise error(field, "a number, not text", value)
    raise error(field, "a number", value)


def parse_number(text: str, field: str, *, error: ErrorFactory = FieldError) -> Fraction:
    """A decimal number written as text (a CSV cell) as an exact Fraction."""
    cleaned = text.strip().replace(",", "") if isinstance(text, str) else text
    try:
        number = Decimal(cleaned)
    except (InvalidOperation, TypeError, ValueError):
        raise error(field, "a number", text) from None
    if not number.is_finite():
        raise error(field, "a finite number", text)
    return Fraction(number)


def ceil_div(a: Fraction, b: Fraction) -> int:
    """ceil(a / b) for Fractions, in integer arithmetic (no Fraction built)."""
    return -((-a.numerator * b.denominator) // (a.denominator * b.numerator))


def floor_div(a: Fraction, b: Fraction) -> int:
    """floor(a / b) for Fractions, in integer arithmetic (no Fraction built)."""
    return (a.numerator * b.denominator) // (a.denominator * b.numerator)


def to_json_number(value: Fraction, *, places: int | None = None) -> int | float:
    """An int when ``value`` is whole, else a float (rounded to ``places``)."""
    if value.denominator == 1:
        return int(value)
    return round(float(value), places) if places is not None else float(value)


def format_amount(value: Fraction | int | float) -> str:
    """``3,625`` or ``1,062.5``: an amount for people, at most two decimals."""
    number = float(value)
    if number == int(number):
        return f"{int(number):,}"
    return f"{number:,.2f}".rstrip("0").rstrip(".")
