"""Billing units: an amount of drug in a code's own unit (docs/billing.md section 2).

Units reported = the amount divided by the code's unit amount, rounded **up**
to the next whole unit; any positive amount is at least one unit.  The scalar
path is exact (:class:`fractions.Fraction`): 3,000 IU at 250 IU is 12, and
1,950.4 IU at 1 IU is 1,951.

The array path is vectorized and gives the same answers:

* integer arrays use integer ceiling division, exact at any size;
* float arrays with a whole unit amount (1, 250, 2,500 ...) use
  ``ceil(amount / unit)``.  That is exact here: a whole amount divides a whole
  unit exactly in binary floating point, and a decimal amount (1,950.4) is
  never a multiple of a whole unit, so rounding cannot carry it across an
  integer unless it has more significant digits than a double holds (more
  than about 15 with the unit's digits counted);
* float arrays with a fractional unit amount (0.1 mg) cannot divide exactly,
  so the candidate answer is corrected against the neighbouring multiples,
  each computed as the double nearest to the exact multiple.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any, overload

import numpy as np
import numpy.typing as npt

from dosing.billing.codesets import BillingCode, CodeSet, load_code_set
from dosing.errors import InputError
from optimizer.numbers import as_fraction, ceil_div

__all__ = ["billing_units", "equivalent_units", "resolve_code", "units_for"]

CodeSetLike = str | Path | CodeSet | None
_MAX_UNITS = 2**62  # far above any real dose; keeps int64 results exact


def resolve_code(code: str | BillingCode, code_set: CodeSetLike = None) -> BillingCode:
    """The :class:`BillingCode` for ``code`` in ``code_set`` (default ``spec``)."""
    if isinstance(code, BillingCode):
        return code
    if not isinstance(code, str) or not code.strip():
        raise InputError("code", "a HCPCS code such as J7212", code)
    return load_code_set(code_set).lookup(code)


def units_for(amount: Fraction, code: BillingCode) -> int:
    """Exact billing units of a positive ``amount`` (in ``code.unit``)."""
    if amount <= 0:
        raise InputError("amount", f"a number of {code.unit} > 0", amount)
    return max(1, ceil_div(amount, code.unit_amount))


@overload
def billing_units(
    amount: npt.NDArray[np.generic], code: str | BillingCode, *, code_set: CodeSetLike = None
) -> npt.NDArray[np.int64]: ...
@overload
def billing_units(
    amount: int | float | Decimal | Fraction,
    code: str | BillingCode,
    *,
    code_set: CodeSetLike = None,
) -> int: ...
def billing_units(
    amount: object, code: str | BillingCode, *, code_set: CodeSetLike = None
) -> int | npt.NDArray[np.int64]:
    """Billing units for ``amount`` (in the code's unit of measure) under ``code``.

    A number gives an ``int``; a numpy array gives an ``int64`` array of the same
    shape, computed without a Python loop per element.  Amounts must be finite
    and > 0.

    >>> billing_units(3000, "J7212")
    12
    >>> billing_units(1950.4, "J7208")
    1951
    """
    billing_code = resolve_code(code, code_set)
    if isinstance(amount, np.ndarray):
        return _array_units(amount, billing_code)
    return units_for(as_fraction(amount, "amount", error=InputError), billing_code)


def equivalent_units(
    amount: Fraction, code: str | BillingCode, *, code_set: CodeSetLike = None
) -> dict[str, int]:
    """The same amount in the other codes of the same product.

    >>> equivalent_units(Fraction(3600), "J7212")
    {'J7208': 3600}
    """
    table = load_code_set(code_set)
    own = resolve_code(code, table)
    return {other.code: units_for(amount, other) for other in table.equivalents(own.code)}


def _array_units(amount: npt.NDArray[np.generic], code: BillingCode) -> npt.NDArray[np.int64]:
    kind = amount.dtype.kind
    if kind not in "iuf":
        raise InputError("amount", "a numeric array", f"an array of dtype {amount.dtype}")
    if amount.size == 0:
        return np.zeros(amount.shape, dtype=np.int64)
    low, high = _checked_range(amount, code)
    unit = code.unit_amount
    if kind in "iu":
        # Exact integer ceiling division: ceil(a * q / p) for unit p/q.
        scaled = amount.astype(np.int64, copy=False)
        if unit.denominator != 1:
            scaled = scaled * unit.denominator
        return -((-scaled) // unit.numerator)
    values = amount.astype(np.float64, copy=False)
    if high / float(unit) >= _MAX_UNITS:
        raise InputError("amount", f"at most {_MAX_UNITS:.3g} units of {code.unit_label}", high)
    if unit.denominator == 1:
        result = np.divide(values, float(unit))
        np.ceil(result, out=result)
        if low < float(unit):  # a sliver below one unit is still one
            np.maximum(result, 1.0, out=result)
        return result.astype(np.int64)
    return _fractional_unit(values, unit)


def _fractional_unit(values: npt.NDArray[np.float64], unit: Fraction) -> npt.NDArray[np.int64]:
    """ceil(value / unit) for a unit that no double holds exactly (0.1 mg)."""
    p, q = float(unit.numerator), float(unit.denominator)
    units = np.ceil(values / (p / q))
    # The true answer is the least k with value <= k x unit.  Compare against
    # the doubles nearest the exact multiples (k x p) / q, which are what the
    # decimal amounts a person types round to.
    below = (units - 1.0) * p / q
    units = np.where(values <= below, units - 1.0, units)
    enough = units * p / q
    units = np.where(values > enough, units + 1.0, units)
    np.maximum(units, 1.0, out=units)
    return units.astype(np.int64)


def _checked_range(amount: npt.NDArray[np.generic], code: BillingCode) -> tuple[float, float]:
    """(min, max) of an array whose every element is finite and > 0; else the
    first offending element is named.  Two reductions, no temporary arrays."""
    low = amount.min()
    high = amount.max()
    if low > 0 and (amount.dtype.kind != "f" or np.isfinite(high)):
        return float(low), float(high)
    flat: npt.NDArray[Any] = amount.reshape(-1)
    if amount.dtype.kind == "f":
        bad = np.flatnonzero(~(np.isfinite(flat) & (flat > 0)))
    else:
        bad = np.flatnonzero(flat <= 0)
    index = int(bad[0])
    raise InputError(f"amount[{index}]", f"a finite number of {code.unit} > 0", flat[index].item())
