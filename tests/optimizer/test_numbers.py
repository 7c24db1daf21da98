"""Numbers at the edge (optimizer.numbers): exact, bounded, read as people write them."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from optimizer import FieldError, lots_from_records
from optimizer.errors import show
from optimizer.numbers import MAX_DIGITS, as_fraction, parse_number


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("3000", Fraction(3000)),
        ("3,000", Fraction(3000)),
        ("12,500.5", Fraction(25001, 2)),
        ("1,234,567", Fraction(1234567)),
        (" 72.5 ", Fraction(145, 2)),
        (".5", Fraction(1, 2)),
        ("1e3", Fraction(1000)),
        ("-0", Fraction(0)),
    ],
)
def test_numbers_as_people_write_them(text: str, value: Fraction) -> None:
    assert parse_number(text, "amount") == value


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("3000,5", "decimal comma"),  # read as 30,005 before: a 10x overbill
        ("1.033,5", "decimal comma"),  # read as 1.0335 before
        ("3,00", "decimal comma"),
        ("30,00,000", "decimal comma"),  # lakh grouping: not groups of three
        ("٣٠٠٠", "ASCII digits"),
        ("３０００", "ASCII digits"),
        ("1_000", "a number"),
        ("nan", "finite"),
        ("-Infinity", "finite"),
        ("1e-400", "1e-15 to 1e15"),  # printed as "0 IU ... 1 units" before
        ("1e100000000", "1e-15 to 1e15"),  # never returned before
        ("1" * 31, "1e-15 to 1e15"),
        ("", "a number"),
    ],
)
def test_what_cannot_be_read_exactly_is_refused_naming_the_field(text: str, needle: str) -> None:
    with pytest.raises(FieldError) as info:
        parse_number(text, "amount")
    assert info.value.field == "amount" and needle in str(info.value)


@pytest.mark.parametrize(
    "value",
    [Decimal("1e100000000"), Decimal("-1e-100000000"), 10**5000, 1e300, float("inf"), True],
    ids=["huge exponent", "tiny exponent", "5,000 digits", "1e300", "inf", "bool"],
)
def test_hostile_values_are_refused_at_once(value: object) -> None:
    with pytest.raises(FieldError) as info:
        as_fraction(value, "dose")
    assert "\n" not in str(info.value) and len(str(info.value)) < 200


def test_a_float_is_the_decimal_it_prints_as() -> None:
    # a weight converted from pounds, as EHRs send it
    assert as_fraction(14.626245804206814, "weight_kg") == Fraction("14.626245804206814")


@given(
    st.decimals(
        min_value=Decimal("-1e15"), max_value=Decimal("1e15"), allow_nan=False, places=10
    ).filter(lambda d: d == 0 or abs(d) >= Decimal("1e-15"))
)
def test_bounded_decimals_are_read_exactly(value: Decimal) -> None:
    if len(value.as_tuple().digits) > MAX_DIGITS:
        return
    assert parse_number(str(value), "x") == Fraction(value)
    assert as_fraction(value, "x") == Fraction(value)


@given(st.text(max_size=40))
def test_any_text_is_a_number_or_a_field_error(text: str) -> None:
    try:
        value = parse_number(text, "amount")
    except FieldError as exc:
        assert exc.field == "amount" and "\n" not in str(exc)
    else:
        assert isinstance(value, Fraction)


@given(st.recursive(st.none() | st.text() | st.integers(), lambda c: st.lists(c), max_leaves=50))
def test_show_is_one_short_line_for_anything(value: object) -> None:
    shown = show(value)
    assert "\n" not in shown and len(shown) <= 60


@pytest.mark.parametrize(
    ("text", "day"),
    [("2027-06", dt.date(2027, 6, 30)), ("2028-02", dt.date(2028, 2, 29)), ("2027-12-01", None)],
)
def test_expiry_as_labels_print_it_is_the_months_last_day(text: str, day: dt.date | None) -> None:
    [lot] = lots_from_records([{"lot": "A", "amount": 1000, "count": 1, "expires": text}])
    assert lot.expires == (day or dt.date.fromisoformat(text))
