"""Picks a pharmacist would accept: the resolution, volumes to draw, the worksheet,
dose plausibility (docs/design.md "Selection rules"; issue examples worked by hand)."""

from __future__ import annotations

import datetime as dt
from fractions import Fraction
from pathlib import Path

import pytest

from dosing import plan
from dosing.cli.worksheet import worksheet
from optimizer import Lot, select

#: The shelf of the examples: 478 IU x 6, 531 x 3, 962 x 5, 1,084 x 2, 1,913 x 3,
#: 2,176 x 1, 2,874 x 2.
SHELF = [
    Lot("A", Fraction(478), 6),
    Lot("B", Fraction(531), 3),
    Lot("C", Fraction(962), 5),
    Lot("D", Fraction(1084), 2),
    Lot("E", Fraction(1913), 3),
    Lot("F", Fraction(2176), 1),
    Lot("G", Fraction(2874), 2),
]


@pytest.mark.parametrize("engine", ["exact", "cpsat"])
@pytest.mark.parametrize(
    ("target", "mode", "resolution", "total", "vials"),
    [
        # resolution 0: closeness first (the rule before resolutions)
        (Fraction(3500), "whole_vials", 0, 3505, 7),
        (Fraction(4400), "whole_vials", 0, 4409, 6),
        (Fraction("2250.5"), "exact_dose", 0, 2390, 5),  # 139.5 IU discarded
        # 0.5%: 17.5 / 22 IU of room: 4 vials, 1 IU further
        (Fraction(3500), "whole_vials", Fraction(1, 2), 3506, 4),
        (Fraction(4400), "whole_vials", Fraction(1, 2), 4414, 4),
        (Fraction("2250.5"), "exact_dose", Fraction(1, 2), 2391, 2),  # 140.5 IU discarded
        # the default, 1%: 35 / 44 IU of room
        (Fraction(3500), "whole_vials", 1, 3475, 3),
        (Fraction(4400), "whole_vials", 1, 4367, 3),
        (Fraction("2250.5"), "exact_dose", 1, 2391, 2),
    ],
)
def test_the_issue_examples(
    engine: str, target: Fraction, mode: str, resolution: Fraction, total: int, vials: int
) -> None:
    result = select(
        target, SHELF, tolerance=10, mode=mode, resolution_pct=resolution, engine=engine
    )
    assert result.selection is not None
    assert (result.selection.total, result.selection.vials) == (total, vials)


def test_the_default_resolution_is_1_percent() -> None:
    assert select(Fraction(3500), SHELF, tolerance=10, mode="whole_vials").selection.vials == 3  # type: ignore[union-attr]


def order(**extra: object) -> dict[str, object]:
    return {
        "code": "J7208",
        "dose": 2250.5,
        "mode": "exact_dose",
        # the volume on each lot, as its label gives it (Jivi 500 IU: 2.5 mL, drugs.com)
        "inventory": [
            {"lot": "J1", "amount": 1000, "count": 2, "product": "Jivi", "volume_ml": 2.5},
            {"lot": "J2", "amount": 500, "count": 2, "product": "Jivi", "volume_ml": 2.5},
        ],
        **extra,
    }


def test_an_exact_dose_draws_a_volume_and_bills_what_it_holds() -> None:
    # 2 x 1,000 + 500 IU; 250.5 IU from a 500 IU vial in 2.5 mL (Jivi's label) is
    # 1.2525 mL, 1.3 mL at the 0.1 mL step, holding 260 IU: 2,260 IU given and billed
    planned = plan(order())
    assert planned.draw is not None
    assert (planned.draw.volume_ml, planned.draw.amount) == (Fraction(13, 10), 260)
    assert planned.administered == 2260 and planned.discarded == 240
    assert [line.units for line in planned.claim_lines] == [2260, 240]
    assert planned.infusion_ml == Fraction(63, 10)  # 2 x 2.5 + 1.3
    assert any("rounded to the syringe's 0.1 mL" in w for w in planned.warnings)
    # a 0.01 mL step: 1.25 mL holds 250 IU
    fine = plan(order(draw_step_ml=0.01))
    assert fine.draw is not None and fine.draw.volume_ml == Fraction(5, 4)
    assert fine.administered == 2250


def test_a_draw_that_lands_on_the_order_bills_the_order() -> None:
    # 250 IU from a 500 IU vial in 2.5 mL is 1.25 mL exactly at a 0.05 mL step
    planned = plan(order(dose=2250, draw_step_ml=0.05))
    assert planned.draw is not None and planned.draw.volume_ml == Fraction(5, 4)
    assert planned.administered == 2250
    assert not any("syringe" in w for w in planned.warnings)


def test_the_catalogs_volume_is_never_drawn_by() -> None:
    # the catalog lists one package's diluent, strength not stated (Kovaltry's 2,000
    # and 3,000 IU vials take more): only the lot's own volume_ml sets a draw
    shelf = [{"lot": "K1", "amount": 2000, "count": 1, "product": "Kovaltry"}]
    planned = plan({"code": "J7211", "dose": 1500, "mode": "exact_dose", "inventory": shelf})
    assert planned.draw is None and planned.administered == 1500


def test_the_smallest_vial_is_the_one_opened() -> None:
    # 2,250.5 IU from 1,913 + 478: opening the 478 IU vial puts a 0.1 mL step at
    # 19 IU, not 76.5 IU
    shelf = [
        {"lot": "BIG", "amount": 1913, "count": 1, "volume_ml": 2.5, "expires": "2027-01-31"},
        {"lot": "SMALL", "amount": 478, "count": 1, "volume_ml": 2.5, "expires": "2027-06-30"},
    ]
    planned = plan({"code": "J7208", "dose": 2250.5, "mode": "exact_dose", "inventory": shelf})
    assert planned.vials[-1].lot == "SMALL" and planned.draw is not None
    # 337.5 of 478 IU in 2.5 mL = 1.765 mL -> 1.8 mL, holding 344.16 IU
    assert planned.draw.volume_ml == Fraction(9, 5)
    assert planned.administered == 1913 + Fraction(478) * Fraction(9, 5) / Fraction(5, 2)


def test_a_lot_volume_from_the_inventory_and_an_unknown_one() -> None:
    shelf = [{"lot": "X1", "amount": 1000, "count": 3, "volume_ml": 4}]
    planned = plan({"code": "J7208", "dose": 2500, "mode": "exact_dose", "inventory": shelf})
    assert planned.draw is not None and planned.draw.volume_ml == 2  # 500 of 1,000 in 4 mL
    unknown = plan(
        {
            "code": "J7208",
            "dose": 2500,
            "mode": "exact_dose",
            "inventory": [{"lot": "X1", "amount": 1000, "count": 3}],
        }
    )
    assert unknown.draw is None and unknown.administered == 2500
    assert any("volume of lot X1's vials is not known" in w for w in unknown.warnings)


def test_the_worksheet_names_patient_payer_date_volumes_and_trades() -> None:
    text = worksheet(
        plan(
            order(patient_id="P-7", payer="medicare", code="J7208", age_years=30),
            today=dt.date(2026, 11, 27),
        )
    )
    assert "Patient:   patient P-7, 30 years, payer medicare" in text
    assert "Date:      today, 2026-11-27 (no date of service: used for expiry)" in text
    assert "then 1.3 mL of the 2.5 mL in the last vial of lot J2 (260 IU)" in text
    assert "2.5 mL  = 2,000 IU" in text
    # an alternative for an exact dose trades discard, never "further from the order"
    assert "further from the order" not in text


def test_whole_vials_show_the_closest_and_the_volume_to_infuse() -> None:
    shelf = [
        {
            "lot": f"L{i}",
            "amount": lot.amount,
            "count": lot.count,
            "product": "Jivi",
            "volume_ml": 2.5,
        }
        for i, lot in enumerate(SHELF)
    ]
    planned = plan(
        {
            "code": "J7208",
            "dose": 3500,
            "mode": "whole_vials",
            "tolerance_pct": 10,
            "inventory": shelf,
        }
    )
    assert planned.dispensed == 3475 and planned.closest is not None
    assert planned.closest.total == 3505 and planned.closest.vials == 7
    assert planned.infusion_ml == Fraction(15, 2)  # 3 vials of 2.5 mL
    text = worksheet(planned)
    assert "3,505 IU in 7 vials (+0.14%; 3,505 units of J7208)" in text


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        ({"weight_kg": 20, "dose_per_kg": 150, "dose": None}, "150 IU/kg is above 100 IU/kg"),
        ({"age_years": 5}, "Jivi is approved from 7 years of age; the patient is 5"),
        ({"dose": 7000, "mode": "whole_vials"}, "above Jivi's labeled maximum of about 6,000 IU"),
    ],
)
def test_implausible_doses_are_stops_on_the_plan_never_refusals_to_plan(
    extra: dict[str, object], needle: str
) -> None:
    """The plan is made and shown; the stop (docs/design.md "Bench safety") is what
    a dispense must override, and it is not repeated among the warnings."""
    shelf = [{"lot": "J1", "amount": 1000, "count": 8, "product": "Jivi"}]
    planned = plan({**order(), "inventory": shelf, **extra})
    assert planned.ok
    assert any(needle in s.message for s in planned.stops), planned.stops
    assert not any(needle in w for w in planned.warnings)
    assert planned.to_dict()["stops"] == [s.to_dict() for s in planned.stops]


@pytest.mark.parametrize("target", [Fraction(3500), Fraction(4400), Fraction(2900), Fraction(6100)])
def test_the_closest_is_the_resolution_0_answer_when_it_differs(target: Fraction) -> None:
    chosen = select(target, SHELF, tolerance=10, mode="whole_vials")
    strict = select(target, SHELF, tolerance=10, mode="whole_vials", resolution_pct=0)
    assert chosen.selection is not None and strict.selection is not None
    if chosen.selection.total == strict.selection.total:
        assert chosen.closest is None
    else:
        assert chosen.closest is not None
        assert (chosen.closest.total, chosen.closest.vials) == (
            strict.selection.total,
            strict.selection.vials,
        )


def test_a_payer_profile_sets_its_own_default_resolution(tmp_path: Path) -> None:
    (tmp_path / "strict.toml").write_text(
        'name = "strict"\ndescription = "closest first"\nsource = "test"\n'
        "filing_window_days = 90\nresolution_pct = 0\n"
    )
    shelf = [
        {"lot": f"L{i}", "amount": lot.amount, "count": lot.count, "product": "Jivi"}
        for i, lot in enumerate(SHELF)
    ]
    order = {
        "code": "J7208",
        "dose": 3500,
        "mode": "whole_vials",
        "tolerance_pct": 10,
        "inventory": shelf,
        "payer": "strict.toml",
    }
    planned = plan(order, base_dir=tmp_path)
    assert planned.dispensed == 3505  # the profile's 0: closest first, 7 vials
    assert plan({**order, "resolution_pct": 1}, base_dir=tmp_path).dispensed == 3475  # the order's


@pytest.mark.parametrize("volume_ml", ["0.001", "0.05", "0.1", "0.15", "1e-15"])
def test_a_vial_smaller_than_a_syringe_step_is_never_drawn_past_its_content(volume_ml: str) -> None:
    # found by a new user's trial: a 0.001 mL vial with the 0.1 mL step billed 50,500
    # units for 1,000 IU dispensed
    order = {
        "code": "J7208",
        "dose": 777,
        "mode": "exact_dose",
        "date_of_service": "2026-11-26",
        "inventory": [
            {
                "lot": "A",
                "amount": 500,
                "count": 4,
                "product": "Jivi",
                "volume_ml": float(volume_ml),
            }
        ],
    }
    result = plan(order)
    assert result.ok and result.administered is not None and result.dispensed is not None
    assert 0 <= result.administered <= result.dispensed
    assert result.draw is not None and result.draw.volume_ml <= result.draw.vial_ml
    assert sum(line.units for line in result.claim_lines) == result.dispensed  # J7208: 1 IU a unit
