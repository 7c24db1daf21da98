"""Drug identity: a plan draws only on lots of the ordered drug (docs/billing.md section 8)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from dosing import InputError, plan, plan_supply
from dosing.cli import main
from tests.paths import EXAMPLES

JIVI = [
    {"lot": "J1", "amount": 1000, "count": 4, "product": "Jivi"},
    {"lot": "J2", "amount": 500, "count": 2, "product": "Jivi"},
]
NOVOSEVEN = [{"lot": "N1", "amount": 1000, "count": 8, "ndc": "0169-7201-01"}]


def order(**extra: object) -> dict[str, object]:
    return {"code": "J7208", "weight_kg": 70, "dose_per_kg": 50, "inventory": JIVI, **extra}


def test_a_novoseven_order_from_a_jivi_shelf_is_infeasible_naming_both(tmp_path: Path) -> None:
    path = tmp_path / "order.json"
    path.write_text(json.dumps({**order(code="J7189", code_set="cms", dose_per_kg=90)}))
    out, err = io.StringIO(), io.StringIO()
    code = main(["plan", str(path), "--json"], out=out, err=err)
    planned = json.loads(out.getvalue())
    assert code == 1 and planned["status"] == "infeasible"
    assert planned["reason"] == (
        "no lots of NovoSeven RT (J7189) on the shelf: it holds Jivi (J7208)"
    )
    assert any("J1, J2 are Jivi (J7208)" in w for w in planned["warnings"])


def test_lots_of_another_drug_are_set_aside_and_the_ordered_ones_used() -> None:
    planned = plan(order(inventory=JIVI + NOVOSEVEN))
    assert planned.ok and {v.lot for v in planned.vials} <= {"J1", "J2"}
    assert any("lot N1 is NovoSeven RT (J7189)" in w for w in planned.warnings)


def test_an_unidentified_lot_is_planned_with_a_stop() -> None:
    shelf = [{"lot": "U1", "amount": 1750, "count": 2, "ndc": "12345-6789-01"}]
    planned = plan(order(inventory=shelf))
    assert planned.ok and planned.vials[0].lot == "U1"
    assert [s.id for s in planned.stops] == ["unverified-lot"]
    assert "lot U1: identity not verified" in planned.stops[0].message
    assert not any("identity not verified" in w for w in planned.warnings)


def test_an_unidentified_lot_not_chosen_is_a_warning_not_a_stop() -> None:
    shelf = [
        {"lot": "U1", "amount": 100, "count": 1, "ndc": "12345-6789-01"},
        {"lot": "J1", "amount": 1750, "count": 2, "product": "Jivi"},
    ]
    planned = plan(order(inventory=shelf))
    assert planned.ok and {v.lot for v in planned.vials} == {"J1"}
    assert planned.stops == ()
    assert any("lot U1: identity not verified" in w for w in planned.warnings)


def test_a_lot_whose_ndc_and_product_disagree_is_set_aside() -> None:
    # openFDA NDC directory: 0026-3821-25 is Kovaltry
    shelf = [
        *JIVI,
        {"lot": "K9", "amount": 1750, "count": 2, "ndc": "0026-3821-25", "product": "Jivi"},
    ]
    planned = plan(order(inventory=shelf))
    assert "K9" not in {v.lot for v in planned.vials}
    assert any("lot K9 is in doubt" in w and "Kovaltry" in w for w in planned.warnings)


def test_an_order_may_name_the_product_a_class_code_bills() -> None:
    shelf = [
        {"lot": "A1", "amount": 1000, "count": 4, "product": "Advate"},
        {"lot": "K1", "amount": 1750, "count": 2, "product": "Kogenate FS"},
    ]
    both = plan(order(code="J7192", inventory=shelf))
    assert both.ok and {v.lot for v in both.vials} == {"K1"}  # 2 x 1,750 = 3,500 exactly
    advate = plan(order(code="J7192", inventory=shelf, product="Advate"))
    assert advate.ok and {v.lot for v in advate.vials} == {"A1"}


def test_a_supply_of_two_drugs_plans_each_from_its_own_lots() -> None:
    request = {
        "doses": [
            {"code": "J7208", "weight_kg": 70, "dose_per_kg": 50, "patient_id": "P1"},
            {
                "code": "J7189",
                "code_set": "cms",
                "weight_kg": 70,
                "dose_per_kg": 90,
                "patient_id": "P2",
            },
        ],
        "inventory": [*JIVI, *NOVOSEVEN],
        "workers": 1,
    }
    supply = plan_supply(request)
    assert supply.ok
    jivi, novoseven = supply.plans
    assert {v.lot for v in jivi.vials} <= {"J1", "J2"}
    assert {v.lot for v in novoseven.vials} == {"N1"}
    summary = supply.to_dict()["summary"]
    assert summary["met"] == 2 and summary["unit"] is None  # type: ignore[index]
    assert summary["total_deviation"] is None  # IU and mcg do not add up  # type: ignore[index]
    assert summary["drugs"] == ["Jivi (J7208)", "NovoSeven RT (J7189)"]  # type: ignore[index]


def test_a_dose_naming_its_product_and_one_that_does_not_share_the_class_lots() -> None:
    # J7192 bills Advate and Kogenate FS: the dose naming Advate may use only its
    # lots, the other any of them; the Advate lot is not set aside for both
    shelf = [
        {"lot": "AD1", "amount": 1000, "count": 3, "product": "Advate"},
        {"lot": "KG1", "amount": 1000, "count": 3, "product": "Kogenate FS"},
    ]
    request = {
        "doses": [
            {"code": "J7192", "dose": 3000, "product": "Advate", "patient_id": "P1"},
            {"code": "J7192", "dose": 3000, "patient_id": "P2"},
        ],
        "inventory": shelf,
        "workers": 1,
    }
    supply = plan_supply(request)
    assert supply.ok
    named, other = supply.plans
    assert {v.lot for v in named.vials} == {"AD1"} and {v.lot for v in other.vials} == {"KG1"}


def test_a_class_code_plans_from_one_product_and_says_so() -> None:
    # 3 x 1,000 Advate is exact; mixing in Kogenate FS would be as close with no gain
    shelf = [
        {"lot": "AD1", "amount": 1000, "count": 3, "product": "Advate"},
        {"lot": "KG1", "amount": 950, "count": 2, "product": "Kogenate FS"},
        {"lot": "RC1", "amount": 1100, "count": 1, "product": "Recombinate"},
    ]
    planned = plan(
        order(code="J7192", dose_per_kg=None, weight_kg=None, dose=3000, inventory=shelf)
    )
    assert planned.ok and {v.lot for v in planned.vials} == {"AD1"}
    assert any(w.startswith("Advate only") for w in planned.warnings)
    # no single product makes it: mixed, with a warning to check
    shelf = [
        {"lot": "AD1", "amount": 1000, "count": 1, "product": "Advate"},
        {"lot": "KG1", "amount": 2000, "count": 1, "product": "Kogenate FS"},
    ]
    mixed = plan(order(code="J7192", dose_per_kg=None, weight_kg=None, dose=3000, inventory=shelf))
    assert mixed.ok and {v.lot for v in mixed.vials} == {"AD1", "KG1"}
    assert any("no one product of J7192" in w for w in mixed.warnings)


def test_an_order_naming_a_product_its_code_does_not_bill_is_refused() -> None:
    with pytest.raises(InputError, match="`product` must be a product J7192 bills"):
        plan(order(code="J7192", product="Kovaltry"))


def test_the_example_supply_is_one_drug() -> None:
    request = json.loads((EXAMPLES / "supply.json").read_text())
    supply = plan_supply({**request, "time_limit": 60, "workers": 1}, base_dir=EXAMPLES)
    assert supply.to_dict()["summary"]["drugs"] == ["Jivi (J7208)"]  # type: ignore[index]


def test_a_shelf_of_the_other_sets_drug_under_the_same_code_says_which_set() -> None:
    # the spec set's J7212 is Jivi; the CMS set's J7212 is Sevenfact (CMS HCPCS file)
    shelf = [{"lot": "S1", "amount": 5000, "count": 2, "product": "Sevenfact"}]
    planned = plan({"code": "J7212", "dose": 6000, "inventory": shelf})
    assert not planned.ok and "the cms code set bills J7212 as Sevenfact" in planned.reason
