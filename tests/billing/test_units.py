"""Billing units (docs/billing.md section 2): exact, rounded up, scalar = vectorized."""

from __future__ import annotations

import math
import re
from decimal import Decimal
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dosing import InputError, billing_units, equivalent_units, load_code_set
from dosing.billing.codesets import BillingCode
from tests.strategies import WHOLE_UNIT_AMOUNTS, amounts, decimal_amounts


def code_with_unit(unit_amount: Fraction | int, unit: str = "IU") -> BillingCode:
    return BillingCode("J9999", "test", "test", Fraction(unit_amount), unit, "test")


# (amount, code, code set, units, where the answer comes from)
KNOWN = [
    (3000, "J7212", "spec", 12, "docs/billing.md s.2: 3,000 IU / 250 must be 12, not 13"),
    (3001, "J7212", "spec", 13, "s.2: rounded up to the next whole unit"),
    (2999.9, "J7212", "spec", 12, "s.2: rounded up"),
    (1950.4, "J7208", "spec", 1951, "s.2: fractional amounts round up the same way"),
    (3600, "J7212", "spec", 15, "spec set: 3,600 IU is 15 units of J7212"),
    (3600, "J7208", "spec", 3600, "spec set: and 3,600 of J7208"),
    (100, "J7212", "spec", 1, "s.2: a dose smaller than one unit is one unit"),
    (0.2, "J7208", "spec", 1, "s.2: a dose smaller than one unit is one unit"),
    (3625, "J7212", "spec", 15, "72.5 kg x 50 IU/kg = 3,625 IU -> 14.5 -> 15"),
    (1000, "J7212", "cms", 1000, "CMS: J7212 is Sevenfact per 1 mcg"),
    (750, "J7192", "cms", 750, "s.5: 50 kg x 30% x 0.5 = 750 IU, J7192 per IU"),
]


@pytest.mark.parametrize(("amount", "code", "code_set", "units", "source"), KNOWN)
def test_known_answers(amount: float, code: str, code_set: str, units: int, source: str) -> None:
    assert billing_units(amount, code, code_set=code_set) == units, source
    vector = billing_units(np.array([amount], dtype=np.float64), code, code_set=code_set)
    assert vector.tolist() == [units], source


@pytest.mark.parametrize(
    ("amount", "unit", "units"),
    [
        (350, 10, 35),
        (70, 10, 7),
        (70, 100, 1),
        (400, 10, 40),  # docs/billing.md s.3 examples
        (1000, 50, 20),
        (1001, 50, 21),
        (2500, 2500, 1),
        (2501, 2500, 2),
        (Decimal("1.1"), Fraction(1, 10), 11),
        (Decimal("0.3"), Fraction(1, 10), 3),
        (Decimal("0.7"), Fraction(1, 10), 7),
        (Decimal("0.71"), Fraction(1, 10), 8),
    ],
)
def test_any_unit_amount(amount: object, unit: Fraction, units: int) -> None:
    """s.1: the engine handles any unit amount, including ones no double holds (0.1 mg)."""
    code = code_with_unit(unit, "mg")
    assert billing_units(amount, code) == units
    assert billing_units(np.array([float(amount)]), code).tolist() == [units]  # type: ignore[arg-type]


@given(amounts(), st.sampled_from(WHOLE_UNIT_AMOUNTS))
def test_units_cover_the_amount_and_no_more(amount: Fraction, unit: int) -> None:
    """units x unit >= amount > (units - 1) x unit, and at least one unit."""
    units = billing_units(amount, code_with_unit(unit))
    assert units >= 1
    assert units * unit >= amount > (units - 1) * unit


@given(amounts(), amounts(), st.sampled_from(WHOLE_UNIT_AMOUNTS))
def test_monotone_in_the_amount(a: Fraction, b: Fraction, unit: int) -> None:
    code = code_with_unit(unit)
    low, high = sorted((a, b))
    assert billing_units(low, code) <= billing_units(high, code)


@given(st.lists(decimal_amounts(), min_size=1, max_size=50), st.sampled_from(WHOLE_UNIT_AMOUNTS))
def test_vectorized_float_path_agrees_with_the_exact_scalar_path(
    values: list[Decimal], unit: int
) -> None:
    code = code_with_unit(unit)
    array = np.array([float(v) for v in values])
    expected = [billing_units(float(v), code) for v in values]
    assert billing_units(array, code).tolist() == expected
    assert expected == [math.ceil(Fraction(v) / unit) for v in values]


@given(
    st.lists(st.integers(1, 10**12), min_size=1, max_size=50),
    st.sampled_from((*WHOLE_UNIT_AMOUNTS, Fraction(1, 10), Fraction(5, 2))),
)
def test_vectorized_integer_path_is_exact(values: list[int], unit: Fraction) -> None:
    code = code_with_unit(unit)
    result = billing_units(np.array(values, dtype=np.int64), code)
    assert result.dtype == np.int64
    assert result.tolist() == [math.ceil(Fraction(v) / Fraction(unit)) for v in values]


@given(
    st.lists(
        st.decimals(min_value=Decimal("0.01"), max_value=10**6, places=2), min_size=1, max_size=30
    ),
    st.sampled_from((Fraction(1, 10), Fraction(1, 4), Fraction(3, 10), Fraction(1, 3))),
)
def test_vectorized_fractional_unit_agrees_with_scalar(
    values: list[Decimal], unit: Fraction
) -> None:
    code = code_with_unit(unit, "mg")
    array = np.array([float(v) for v in values])
    assert billing_units(array, code).tolist() == [billing_units(v, code) for v in values]


@given(amounts())
def test_equivalent_units_are_consistent(amount: Fraction) -> None:
    """The same amount billed under J7212 (250 IU) and J7208 (1 IU) of the same product."""
    assert equivalent_units(amount, "J7212") == {"J7208": max(1, math.ceil(amount))}
    assert equivalent_units(amount, "J7208") == {"J7212": max(1, math.ceil(amount / 250))}


def test_array_shape_and_dtype_are_kept() -> None:
    array = np.array([[250.0, 251.0], [3000.0, 0.5]])
    result = billing_units(array, "J7212")
    assert result.dtype == np.int64 and result.shape == (2, 2)
    assert result.tolist() == [[1, 2], [12, 1]]
    assert billing_units(np.array([], dtype=float), "J7212").tolist() == []
    assert billing_units(np.array([5e-324]), "J7212").tolist() == [1]


@pytest.mark.parametrize(
    ("amount", "field", "expected"),
    [
        (0, "amount", "a number of IU > 0"),
        (-3, "amount", "> 0"),
        (float("nan"), "amount", "a finite number"),
        (float("inf"), "amount", "a finite number"),
        ("3000", "amount", "a number, not text"),
        (True, "amount", "a number"),
        (None, "amount", "a number"),
    ],
)
def test_bad_scalar_amounts(amount: object, field: str, expected: str) -> None:
    with pytest.raises(InputError, match=f"^`{field}` must be .*{expected}"):
        billing_units(amount, "J7212")


@pytest.mark.parametrize(
    ("array", "field"),
    [
        (np.array([250.0, 0.0]), "amount[1]"),
        (np.array([250.0, -1.0, 3.0]), "amount[1]"),
        (np.array([np.nan, 250.0]), "amount[0]"),
        (np.array([250.0, np.inf]), "amount[1]"),
        (np.array([5, 0], dtype=np.int64), "amount[1]"),
        (np.array(["250"]), "amount"),
    ],
)
def test_bad_array_amounts_name_the_element(array: np.ndarray, field: str) -> None:
    with pytest.raises(InputError, match=rf"^`{re.escape(field)}` must be"):
        billing_units(array, "J7212")


def test_unknown_code_names_close_matches() -> None:
    with pytest.raises(LookupError, match="did you mean"):
        billing_units(100, "J7221")
    with pytest.raises(InputError, match="`code` must be a HCPCS code"):
        billing_units(100, "")
    assert load_code_set("cms").lookup("J7212").unit == "mcg"
