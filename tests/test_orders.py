"""Dose orders (docs/billing.md section 5): exact amounts and clear refusals."""

from __future__ import annotations

import json
import re
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dosing import InputError, load_code_set
from dosing.orders import DOCUMENTATION_KEYS, ORDER_KEYS, Order, parse_order
from tests.paths import ROOT

SPEC = load_code_set("spec")
LOTS = [{"ndc": "12345-6789-01", "lot": "A1", "amount": 1030, "count": 4}]


def order(**fields: object) -> Order:
    data = {"code": "J7212", "inventory": LOTS, **fields}
    return parse_order(json.loads(json.dumps(data), parse_float=__import__("decimal").Decimal))


@pytest.mark.parametrize(
    ("fields", "amount", "how"),
    [
        ({"weight_kg": 72.5, "dose_per_kg": 50}, Fraction(3625), "72.5 kg x 50 IU/kg = 3,625 IU"),
        ({"dose": 3625}, Fraction(3625), "fixed dose 3,625 IU"),
        (
            {"weight_kg": 50, "target_rise_pct": 30},
            Fraction(750),
            "50 kg x 30% rise / 2 IU/dL per IU/kg (Factor VIII) = 750 IU",
        ),  # docs/billing.md s.5 example
        ({"weight_kg": 0.7, "dose_per_kg": 0.1}, Fraction(7, 100), "0.7 kg x 0.1 IU/kg = 0.07 IU"),
    ],
)
def test_dose_calculation_is_exact(fields: dict[str, object], amount: Fraction, how: str) -> None:
    calculation = order(**fields).dose_for(SPEC.lookup("J7212"))
    assert calculation.amount == amount
    assert calculation.how == how


@given(
    st.decimals(min_value="0.5", max_value=300, places=2),
    st.decimals(min_value="0.01", max_value=300, places=2),
)
def test_weight_times_dose_is_exact_from_floats(weight: object, per_kg: object) -> None:
    """A float typed by a caller means its decimal: 72.5 x 50 is 3,625 exactly."""
    result = parse_order(
        {
            "code": "J7212",
            "inventory": LOTS,
            "weight_kg": float(weight),
            "dose_per_kg": float(per_kg),
        }
    )  # type: ignore[arg-type]
    assert result.dose_for(SPEC.lookup("J7212")).amount == Fraction(weight) * Fraction(per_kg)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("fields", "field", "expected"),
    [
        ({"weight_kg": 70}, "dose_per_kg|dose|target_rise_pct", "exactly one of them"),
        (
            {"weight_kg": 70, "dose_per_kg": 50, "dose": 3500},
            "dose_per_kg|dose|target_rise_pct",
            "exactly one",
        ),
        ({"dose_per_kg": 50}, "weight_kg", "given with dose_per_kg"),
        ({"weight_kg": 725, "dose_per_kg": 50}, "weight_kg", "between 0.5 and 300 kg"),
        ({"weight_kg": 0.2, "dose_per_kg": 50}, "weight_kg", "between 0.5 and 300 kg"),
        ({"weight_kg": -3, "dose_per_kg": 50}, "weight_kg", "a number > 0"),
        ({"weight_kg": "72", "dose_per_kg": 50}, "weight_kg", "a number, not text"),
        ({"weight_kg": 72, "dose_per_kg": 0}, "dose_per_kg", "a number > 0"),
        ({"dose": float("nan")}, "dose", "a finite number"),
        ({"dose": float("inf")}, "dose", "a finite number"),
        ({"dose": True}, "dose", "a number"),
        ({"dose": 3000, "tolerance_pct": -1}, "tolerance_pct", "a percentage >= 0"),
        (
            {"dose": 3000, "tolerance_pct": 5, "tolerance": {"under_pct": 5, "over_pct": 5}},
            "tolerance_pct|tolerance",
            "one of them",
        ),
        ({"dose": 3000, "tolerance": {"under_pct": 5}}, "tolerance", "an object"),
        ({"dose": 3000, "mode": "fastest"}, "mode", "one of whole_vials, exact_dose, auto"),
        ({"dose": 3000, "setting": "home"}, "setting", "one of administered, dispensed"),
        ({"dose": 3000, "max_vials": 0}, "max_vials", "a whole number >= 1"),
        ({"dose": 3000, "max_vials": 2.5}, "max_vials", "a whole number"),
        ({"dose": 3000, "date_of_service": "26/11/2026"}, "date_of_service", "an ISO date"),
        ({"dose": 3000, "weight": 70}, "weight", "a known order key"),
        ({"weight_kg": 70, "target_rise_pct": 500}, "target_rise_pct", "at most 200%"),
    ],
)
def test_bad_orders_name_the_field(fields: dict[str, object], field: str, expected: str) -> None:
    with pytest.raises(InputError) as info:
        order(**fields)
    assert info.value.field == field
    assert expected in str(info.value)
    assert "\n" not in str(info.value)


def test_target_rise_refused_for_a_code_that_is_not_factor_viii_or_ix_in_iu() -> None:
    sevenfact = load_code_set("cms").lookup("J7212")
    with pytest.raises(InputError, match="Factor VIII or IX code billed in IU"):
        order(weight_kg=70, target_rise_pct=40).dose_for(sevenfact)


def test_factor_ix_by_rise_uses_the_labels_recovery_then_the_patients() -> None:
    # BeneFIX highlights (Pfizer): 0.8 IU/dL per IU/kg at 12 years and older, so
    # 72.5 kg x 40% / 0.8 = 3,625 IU; without a label figure Factor IX's 1 IU/dL per
    # IU/kg (AlphaNine SD dosage: kg x % rise x 1 IU/kg)
    from dosing import plan

    shelf = [{"lot": "B1", "amount": 1000, "count": 6, "product": "BeneFIX"}]
    planned = plan(
        {
            "code": "J7195",
            "code_set": "cms",
            "weight_kg": 72.5,
            "target_rise_pct": 40,
            "inventory": shelf,
        }
    )
    assert planned.ordered == 3625 and "BeneFIX label" in planned.calculation.how
    generic = order(weight_kg=72.5, target_rise_pct=40).dose_for(
        load_code_set("cms").lookup("J7193")
    )
    assert generic.amount == 2900
    observed = plan(
        {
            "code": "J7195",
            "code_set": "cms",
            "weight_kg": 72.5,
            "target_rise_pct": 40,
            "recovery": 1.25,
            "inventory": shelf,
        }
    )
    assert observed.ordered == 2320 and "observed" in observed.calculation.how


def test_inventory_must_be_given_once(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="exactly one of them"):
        parse_order({"code": "J7212", "dose": 3000})
    csv_path = tmp_path / "inv.csv"
    csv_path.write_text("ndc,lot,amount,count,expires\n12345-6789-01,B2,1062.5,3,2027-01-31\n")
    parsed = parse_order(
        {"code": "J7212", "dose": 3000, "inventory_file": "inv.csv"}, base_dir=tmp_path
    )
    assert parsed.inventory[0].amount == Fraction(2125, 2)
    with pytest.raises(InputError, match="no such file"):
        parse_order(
            {"code": "J7212", "dose": 3000, "inventory_file": "missing.csv"}, base_dir=tmp_path
        )


def test_order_keys_are_the_documented_contract() -> None:
    """docs/design.md "Order JSON" lists every key an order takes (the top level of
    its example); the code accepts exactly those, and unknown keys are an error."""
    design = (ROOT / "docs" / "design.md").read_text()
    block = design.split("## Order JSON", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r'^ {6}"(\w+)":', block, re.MULTILINE))
    assert set(ORDER_KEYS) == documented
    assert set(DOCUMENTATION_KEYS) < documented


def test_documentation_fields() -> None:
    parsed = order(
        dose=3000,
        patient_id="P1",
        diagnosis_codes=["D66"],
        prior_authorization="PA9",
        prior_products=["kovaltry"],
        site="HTC-0001",
    )
    assert parsed.diagnosis_codes == ("D66",) and parsed.documented("prior_authorization")
    assert not order(dose=3000).documented("prior_authorization")
    with pytest.raises(
        InputError, match="`diagnosis_codes` must be a list of non-empty printable texts"
    ):
        order(dose=3000, diagnosis_codes="D66")
