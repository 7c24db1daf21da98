"""The JSON records of ``units --json`` and ``codes --json`` (and of the web API)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

from dosing.billing.codesets import BillingCode, CodeSet, load_code_set
from dosing.billing.units import equivalent_units, resolve_code, units_for
from optimizer.numbers import to_json_number

__all__ = ["codes_record", "unit_json", "units_record"]


def unit_json(code: BillingCode) -> dict[str, object]:
    """``{"amount": 250, "of": "IU"}``: what one billing unit stands for."""
    amount: Fraction = code.unit_amount
    return {"amount": to_json_number(amount), "of": code.unit}


def units_record(
    amount: Fraction, code: str, code_set: str | Path | CodeSet | None
) -> dict[str, object]:
    """``{"code", "code_set", "amount", "unit", "units", "equivalent_units"}``."""
    table = code_set if isinstance(code_set, CodeSet) else load_code_set(code_set)
    billed = resolve_code(code, table)
    return {
        "code": billed.code,
        "code_set": table.name,
        "amount": to_json_number(amount),
        "unit": unit_json(billed),
        "units": units_for(amount, billed),
        "equivalent_units": equivalent_units(amount, billed, code_set=table),
    }


def codes_record(code_set: str | Path | CodeSet | None) -> dict[str, object]:
    """``{"code_set", "codes": [{"code", "descriptor", "product", "unit", "factor",
    "source"}]}``."""
    table = code_set if isinstance(code_set, CodeSet) else load_code_set(code_set)
    return {
        "code_set": table.name,
        "codes": [
            {
                "code": c.code,
                "descriptor": c.descriptor,
                "product": c.product,
                "unit": unit_json(c),
                "factor": c.factor,
                "source": c.source,
            }
            for c in table
        ],
    }
