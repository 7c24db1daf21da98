"""Drug identity: a plan draws only on lots of the ordered drug (docs/billing.md section 8)."""

from __future__ import annotations

import io
import json
from pathlib import Path

from dosing import plan, plan_supply
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


def test_an_unidentified_lot_is_used_with_a_warning() -> None:
    shelf = [{"lot": "U1", "amount": 1750, "count": 2, "ndc": "12345-6789-01"}]
    planned = plan(order(inventory=shelf))
    assert planned.ok and planned.vials[0].lot == "U1"
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
        "inventory": [*JIVI, *NOVOSEVEN, {"lot": "U1", "amount": 700, "count": 1}],
        "workers": 1,
    }
    supply = plan_supply(request)
    assert supply.ok and len(supply.groups) == 2
    jivi, novoseven = supply.plans
    assert {v.lot for v in jivi.vials} <= {"J1", "J2"}
    assert {v.lot for v in novoseven.vials} == {"N1"}
    # the unidentified lot could serve either drug: set aside for both
    for planned in supply.plans:
        assert "U1" not in {v.lot for v in planned.vials}
        assert any("lot U1 is wanted by doses of another drug" in w for w in planned.warnings)
    summary = supply.to_dict()["summary"]
    assert summary["met"] == 2 and len(summary["groups"]) == 2  # type: ignore[index, arg-type]


def test_the_example_supply_is_one_drug() -> None:
    request = json.loads((EXAMPLES / "supply.json").read_text())
    supply = plan_supply({**request, "time_limit": 60, "workers": 1}, base_dir=EXAMPLES)
    assert len(supply.groups) == 1 and supply.groups[0].drug.startswith("Jivi")
