"""Exact numbers at the edge.

Amounts (IU, mcg, mg) and percentages are held as :class:`fractions.Fraction`
so that 72.5 x 50 is 3,625 and 3,000 / 250 is 12 with no float error.  A float
is read as the decimal it prints as (``1950.4`` is 19504/10, not the binary
value nearest to it), which is what the person who typed it meant.

Every number is bounded before it is converted, so that no input can make the
conversion slow or the arithmetic huge: its magnitude within 10^-15 to 10^15
(zero aside) and at most 30 significant digits.  Text is read as people write
numbers: ``3,000`` and ``12,500.5`` (thousands separators, correctly grouped)
are read, a decimal comma (``3000,5``, ``1.033,5``) is refused rather than
guessed at, and so are digits other than ASCII ones.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal
from fractions import Fraction
from numbers import Rational
from typing import Protocol

from optimizer.errors import FieldError

__all__ = [
    "MAX_DIGITS",
    "MAX_EXPONENT",
    "as_fraction",
    "ceil_div",
    "counted",
    "floor_div",
    "format_amount",
    "parse_number",
    "to_json_number",
]

#: Numbers must lie within 10^-MAX_EXPONENT and 10^MAX_EXPONENT (or be zero).
MAX_EXPONENT = 15
#: ... and have at most this many significant digits.
MAX_DIGITS = 30
_LARGEST = Decimal(10) ** MAX_EXPONENT
#: The largest numerator or denominator a Fraction given directly may have: a
#: bounded decimal needs at most 10^45 (30 digits past 10^-15, 150 bits); a
#: product of two such, 300 bits; anything larger is no dose.
_MAX_PART_BITS = 480
_RANGE = f"a number from 1e-{MAX_EXPONENT} to 1e{MAX_EXPONENT} with at most {MAX_DIGITS} digits"
_PLAIN = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_GROUPED = re.compile(r"([+-]?)(\d{1,3}(?:,\d{3})+)(\.\d+)?")


class ErrorFactory(Protocol):
    """An error class taking (field, expected, got), like :class:`FieldError`."""

    def __call__(self, field: str, expected: str, got: object) -> Exception: ...


def as_fraction(value: object, field: str, *, error: ErrorFactory = FieldError) -> Fraction:
    """``value`` as an exact, finite, bounded :class:`Fraction`; anything else is refused.

    Text is refused here (use :func:`parse_number` for text from a file), and
    so are booleans, which Python would otherwise treat as 0 and 1.
    """
    if isinstance(value, bool) or value is None:
        raise error(field, "a number", value)
    if isinstance(value, Fraction):
        return _bounded_fraction(value, field, error)
    if isinstance(value, int):
        if abs(value) > 10**MAX_EXPONENT:
            raise error(field, _RANGE, value)  # errors.show describes what str() cannot print
        return Fraction(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise error(field, "a finite number", value)
        return _from_decimal(Decimal(repr(value)), field, error, value)
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise error(field, "a finite number", value)
        return _from_decimal(value, field, error, value)
    if isinstance(value, Rational):
        return as_fraction(
            Fraction(int(value.numerator), int(value.denominator)), field, error=error
        )
    item = getattr(value, "item", None)  # numpy scalars
    if callable(item) and not isinstance(value, str):
        return as_fraction(item(), field, error=error)
    if isinstance(value, str):
        raise error(field, "a number, not text", value)
    raise error(field, "a number", value)


def parse_number(text: str, field: str, *, error: ErrorFactory = FieldError) -> Fraction:
    """A decimal number written as text (a CSV cell, a command-line argument)."""
    if not isinstance(text, str):
        raise error(field, "a number", text)
    cleaned = text.strip()
    if not cleaned.isascii():
        raise error(field, "a number in ASCII digits", text)
    grouped = _GROUPED.fullmatch(cleaned)
    if grouped:
        cleaned = grouped.group(1) + grouped.group(2).replace(",", "") + (grouped.group(3) or "")
    elif "," in cleaned:
        raise error(
            field,
            "a number with a decimal point (3000.5) and, if any, thousands separators "
            "in groups of three (12,500.5); a decimal comma is not read",
            text,
        )
    if not _PLAIN.fullmatch(cleaned):
        lowered = cleaned.lower().lstrip("+-")
        if lowered in ("inf", "infinity", "nan", "snan"):
            raise error(field, "a finite number", text)
        raise error(field, "a number", text)
    return _from_decimal(Decimal(cleaned), field, error, text)


def _from_decimal(value: Decimal, field: str, error: ErrorFactory, given: object) -> Fraction:
    """A finite Decimal as a Fraction, its size checked before the conversion
    (Fraction(Decimal("1e100000000")) would not return in any useful time)."""
    if value.is_zero():
        return Fraction(0)
    digits = len(value.as_tuple().digits)
    if digits > MAX_DIGITS or not _within(Decimal(value.adjusted())):
        raise error(field, _RANGE, given)
    if abs(value) > _LARGEST:  # 1e15 < |value| < 1e16 has the same exponent
        raise error(field, _RANGE, given)
    return Fraction(value)


def _bounded_fraction(value: Fraction, field: str, error: ErrorFactory) -> Fraction:
    """A Fraction within the range, and its parts of bounded size."""
    if value == 0:
        return value
    if max(value.numerator.bit_length(), value.denominator.bit_length()) > _MAX_PART_BITS:
        raise error(field, _RANGE, "a fraction with very large parts")
    if not Fraction(1, 10**MAX_EXPONENT) <= abs(value) <= 10**MAX_EXPONENT:
        raise error(field, _RANGE, value)
    return value


def _within(exponent: Decimal) -> bool:
    return -MAX_EXPONENT <= exponent <= MAX_EXPONENT


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
    """``3,625`` or ``1,062.5``: an amount for people, rounded exactly to at most two
    decimals; an amount under 0.005 keeps its significant digits (never shown as 0)."""
    exact = Fraction(value) if not isinstance(value, float) else Fraction(repr(value))
    if exact.denominator == 1:
        return f"{exact.numerator:,}"
    if abs(exact) < Fraction(1, 200):
        return f"{float(exact):.3g}"
    hundredths = math.floor(abs(exact) * 100 + Fraction(1, 2))  # exact, half away from zero
    whole, cents = divmod(hundredths, 100)
    sign = "-" if exact < 0 else ""
    return f"{sign}{whole:,}.{cents:02d}".rstrip("0").rstrip(".")


def counted(count: int, singular: str, plural: str | None = None) -> str:
    """``1 unit``, ``2 units``, ``1,000 doses``: a count with its noun agreeing."""
    noun = singular if count == 1 else (plural or singular + "s")
    return f"{count:,} {noun}"
