"""``dosing.plan``: the pipeline from order to claim lines, and the plan JSON contract."""

from __future__ import annotations

import datetime as dt
import json
import math
from fractions import Fraction

import pytest
from hypothesis import event, given
from hypothesis import strategies as st

import dosing
from dosing import InputError
from dosing.cli.worksheet import worksheet
from dosing.orders import parse_order
from dosing.pipeline import plan

DAY = "2026-11-26"
SHELF = [
    {"ndc": "12345-6789-01", "lot": "A1", "amount": 1030, "count": 4, "expires": "2027-06-30"},
    {"ndc": "12345-6789-02", "lot": "B2", "amount": 1650, "count": 2, "expires": "2027-03-31"},
]
DESIGN_KEYS = {
    "status",
    "code",
    "code_set",
    "unit",
    "mode",
    "ordered",
    "dispensed",
    "administered",
    "discarded",
    "deviation_pct",
    "vials",
    "claim_lines",
    "equivalent_units",
    "alternatives",
}


def order(**fields: object) -> dict[str, object]:
    return {
        "code": "J7212",
        "weight_kg": 72.5,
        "dose_per_kg": 50,
        "date_of_service": DAY,
        "inventory": SHELF,
        **fields,
    }


def test_plan_json_has_the_design_fields() -> None:
    result = plan(order()).to_dict()
    assert set(result) >= DESIGN_KEYS
    assert result["status"] == "ok" and result["code_set"] == "spec"
    assert result["unit"] == {"amount": 250, "of": "IU"}
    assert result["ordered"] == 3625.0
    assert result["dispensed"] == 3710.0 and result["administered"] == 3710.0
    assert result["discarded"] == 0.0 and result["deviation_pct"] == 2.34
    assert result["vials"] == [
        {"ndc": "12345678902", "lot": "B2", "amount": 1650, "count": 1, "expires": "2027-03-31"},
        {"ndc": "12345678901", "lot": "A1", "amount": 1030, "count": 2, "expires": "2027-06-30"},
    ]
    assert result["claim_lines"] == [
        {
            "code": "J7212",
            "modifiers": ["JZ"],
            "units": 7,
            "ndc": "12345678902",
            "ndc_quantity": 1650,
            "ndc_unit": "F2",
            "narrative": "",
        },
        {
            "code": "J7212",
            "modifiers": ["JZ"],
            "units": 8,
            "ndc": "12345678901",
            "ndc_quantity": 2060,
            "ndc_unit": "F2",
            "narrative": "",
        },
    ]
    assert result["equivalent_units"] == {"J7208": 3710}
    assert result["alternatives"] == [
        # what it trades: 8.97% under, billed as 14 units of J7212 (3,300 / 250, up)
        {"vials": 2, "dispensed": 3300.0, "deviation_pct": -8.97, "lots": {"B2": 2}, "units": 14}
    ]
    json.dumps(result)  # serializable as it is


def test_infeasible_plan_gives_reason_and_nearest() -> None:
    result = plan(order(mode="whole_vials", tolerance_pct=0.1))
    data = result.to_dict()
    assert data["status"] == "infeasible" and not result.ok
    assert "no combination of whole vials lands in" in data["reason"]
    assert data["nearest"]["below"]["dispensed"] == 3300.0
    assert data["nearest"]["above"]["dispensed"] == 3710.0
    assert data["claim_lines"] == [] and data["vials"] == []
    assert "NO PLAN" in worksheet(result) and "Nearest above: 3,710 IU" in worksheet(result)


def test_exact_dose_draws_the_order_and_discards_the_rest() -> None:
    result = plan(order(mode="exact_dose"))
    assert (result.dispensed, result.administered, result.discarded) == (3710, 3625, 85)
    assert result.deviation_pct == 0.0
    assert "Draw exactly 3,625 IU; discard 85 IU" in worksheet(result)


def test_auto_falls_back_to_exact_dose_with_a_warning() -> None:
    result = plan(order(tolerance_pct=0.1))
    assert result.ok and result.mode.value == "exact_dose"
    assert any("exact dose is drawn" in w for w in result.warnings)


def test_expired_lots_are_never_chosen() -> None:
    shelf = [
        {"lot": "OLD", "amount": 3625, "count": 1, "expires": "2026-11-25"},
        {"lot": "NEW", "amount": 3500, "count": 1, "expires": "2026-11-26"},
    ]
    result = plan(order(inventory=shelf))
    assert [v.lot for v in result.vials] == ["NEW"]
    assert any("lot OLD expired on 2026-11-25" in w for w in result.warnings)
    undated = plan({**order(inventory=shelf), "date_of_service": None}, today=dt.date(2026, 11, 1))
    assert [v.lot for v in undated.vials] == ["OLD"]


def test_code_set_cms_bills_j7212_per_mcg() -> None:
    result = plan(
        {
            "code": "J7212",
            "code_set": "cms",
            "weight_kg": 80,
            "dose_per_kg": 75,
            "date_of_service": DAY,
            "inventory": [
                {"lot": "S1", "amount": 1000, "count": 6},
                {"lot": "S5", "amount": 5000, "count": 2},
            ],
        }
    )
    assert result.to_dict()["unit"] == {"amount": 1, "of": "mcg"}
    assert sum(line.units for line in result.claim_lines) == 6000
    assert result.equivalent_units == {}


def test_order_object_and_dict_give_the_same_plan() -> None:
    assert plan(parse_order(order())).to_dict() == plan(order()).to_dict()
    assert dosing.plan(order()).to_dict() == plan(order()).to_dict()


def test_bad_orders_raise_input_errors() -> None:
    with pytest.raises(InputError, match="`weight_kg` must be between"):
        plan(order(weight_kg=725))
    with pytest.raises(LookupError, match=r"did you mean .*J7212"):
        plan(order(code="J7221"))
    with pytest.raises(InputError, match="`order` must be a JSON object"):
        plan([1, 2])  # type: ignore[arg-type]


lots = st.lists(
    st.tuples(
        st.sampled_from((500, 1000, 2000, 3000)),
        st.integers(-80, 80),
        st.integers(1, 5),
        st.sampled_from(("0026-3954-10", "0026-3955-10", None)),
    ),
    min_size=1,
    max_size=4,
)


@given(
    lots,
    st.data(),
    st.integers(25, 60),
    st.sampled_from(("whole_vials", "exact_dose", "auto")),
    st.sampled_from((0, 1, 5, 10)),
    st.sampled_from(("administered", "dispensed")),
    st.sampled_from(("spec", "cms")),
)
def test_plan_invariants(
    shelf: list[tuple[int, int, int, str | None]],
    data: st.DataObject,
    per_kg: int,
    mode: str,
    tolerance: int,
    setting: str,
    code_set: str,
) -> None:
    """Against enumeration of the shelf: a plan exists exactly when a selection
    fits; whole vials land within the resolution of the closest total in the
    window; an exact dose within it of the smallest total that covers it; the
    claim bills ceil(billed / unit) units on its given lines and every whole unit
    left on a JW line (JZ when none)."""
    # most orders are a total of the shelf's own vials, a little off: feasible
    counts = [data.draw(st.integers(0, c)) for _, _, c, _ in shelf]
    made = sum((n + s) * k for (n, s, _, _), k in zip(shelf, counts, strict=True))
    off = Fraction(data.draw(st.integers(-30, 30)), 1000)
    weight = Fraction(made) * (1 + off) / per_kg
    if not 20 <= weight <= 300 or not data.draw(st.integers(0, 3)):
        weight = Fraction(data.draw(st.integers(20, 100)))
    inventory = [
        {
            "lot": f"L{i}",
            "amount": nominal + spread,
            "count": count,
            **({"ndc": ndc} if ndc else {}),
        }
        for i, (nominal, spread, count, ndc) in enumerate(shelf)
    ]
    result = plan(
        {
            "code": "J7212",
            "code_set": code_set,
            "weight_kg": weight,
            "dose_per_kg": per_kg,
            "mode": mode,
            "tolerance_pct": tolerance,
            "setting": setting,
            "date_of_service": DAY,
            "inventory": inventory,
        }
    )
    ordered = weight * per_kg
    stock = [(Fraction(n + s), c) for n, s, c, _ in shelf]
    totals = {Fraction(0)}
    for amount, count in stock:
        totals = {t + k * amount for t in totals for k in range(count + 1)}
    window = [t for t in totals if ordered * (100 - tolerance) / 100 <= t]
    window = [t for t in window if t <= ordered * (100 + tolerance) / 100]
    covers = any(t >= ordered for t in totals)
    if not result.ok:
        event("infeasible")
        # by enumeration: nothing fits the window, nor (in exact or auto) covers the dose
        assert result.claim_lines == () and result.selection.reason
        assert not window if mode == "whole_vials" else not covers
        assert mode != "auto" or not window
        return
    event(f"feasible: {result.mode.value}")
    assert result.dispensed is not None and result.administered is not None
    assert result.discarded is not None
    assert result.administered + result.discarded == result.dispensed
    if result.mode.value == "whole_vials":
        assert result.discarded == 0
        assert result.dispensed in window
        # near-closest (docs/design.md, default resolution 1%): within 1% of the order
        # of the closest reachable total in the window
        reach = min(abs(t - ordered) for t in window) + ordered / 100
        assert abs(result.dispensed - ordered) <= reach
    else:
        assert result.administered == result.ordered <= result.dispensed
        # near-least discard: within 1% of the order of the smallest covering total
        assert result.dispensed <= min(t for t in totals if t >= ordered) + ordered / 100
        assert mode == "exact_dose" or not window  # auto draws exactly only when nothing fits
    unit = result.code.unit_amount
    modifiers = [m for line in result.claim_lines for m in line.modifiers]
    assert not ("JW" in modifiers and "JZ" in modifiers)
    given_units = sum(line.units for line in result.claim_lines if "JW" not in line.modifiers)
    jw_units = sum(line.units for line in result.claim_lines if "JW" in line.modifiers)
    billed = result.dispensed if setting == "dispensed" else result.administered
    assert given_units == max(1, math.ceil(billed / unit))
    if setting == "dispensed":
        assert not modifiers
    else:
        # JW bills every whole unit left after the given ones, and no more
        k = 0
        while (given_units + k + 1) * unit <= result.dispensed:
            k += 1
        assert jw_units == k
        assert ("JZ" in modifiers) == (k == 0)
    assert sum(v.amount * v.count for v in result.vials) == result.dispensed
    assert Fraction(result.to_dict()["dispensed"]).limit_denominator(1000) == result.dispensed


def test_a_billing_note_never_drops_the_draw_warning() -> None:
    """Found in review: with a 340B note, an exact dose's "draw rounded"
    warning disappeared.  1,000 IU of Kovaltry from one 1,030 IU vial of 5 mL, drawn
    by 1 mL: 4.85 mL rounds to the whole 5 mL, so 1,030 IU is given and billed, and
    both notes are said."""
    order = {
        "code": "J7211",
        "code_set": "cms",
        "dose": 1000,
        "mode": "exact_dose",
        "draw_step_ml": 1,
        "inventory": [
            {"lot": "K1", "amount": 1030, "count": 1, "product": "Kovaltry", "volume_ml": 5}
        ],
    }
    for extra in ({}, {"340b": True}):
        planned = plan({**order, **extra})
        assert planned.administered == 1030
        assert any("the draw is rounded" in w for w in planned.warnings), planned.warnings
    assert any("340B" in w for w in plan({**order, "340b": True}).warnings)
