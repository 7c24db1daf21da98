"""Claim lines (docs/billing.md sections 2, 3, 6): JW/JZ, rounding, NDC lines."""

from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dosing import InputError
from dosing.billing.claims import NdcAmount, apportion, claim_lines
from dosing.billing.codesets import BillingCode
from dosing.billing.ndc import normalize_ndc
from dosing.orders import Setting
from dosing.pipeline import plan


def code(unit_amount: int, unit: str = "mg") -> BillingCode:
    return BillingCode("J9999", "test drug", "test", Fraction(unit_amount), unit, "test")


def lines(unit: int, dispensed: int, administered: int, unit_of: str = "mg") -> list[tuple]:
    source = [NdcAmount("00000000001", Fraction(dispensed), Fraction(administered))]
    return [
        (line.units, line.modifiers)
        for line in claim_lines(code(unit, unit_of), source, Setting.ADMINISTERED)
    ]


# docs/billing.md section 3, published examples
@pytest.mark.parametrize(
    ("unit", "dispensed", "administered", "expected", "source"),
    [
        (10, 400, 350, [(35, ()), (5, ("JW",))], "350 mg from 4 x 100 mg, unit 10 mg"),
        (10, 400, 400, [(40, ("JZ",))], "400 mg given from 4 x 100 mg: 40 units JZ"),
        (10, 100, 70, [(7, ()), (3, ("JW",))], "70 mg from a 100 mg vial, unit 10 mg"),
        (100, 100, 70, [(1, ("JZ",))], "70 mg from 100 mg, unit 100 mg: JW would overpay"),
        (250, 1030, 760, [(4, ("JZ",))], "760 IU from 1,030 IU, unit 250 IU: 30 IU left, no JW"),
    ],
)
def test_published_examples(
    unit: int, dispensed: int, administered: int, expected: list[tuple], source: str
) -> None:
    assert lines(unit, dispensed, administered) == expected, source


def test_dispensed_setting_bills_the_dispensed_amount_without_jw_or_jz() -> None:
    source = [NdcAmount(None, Fraction(400), Fraction(350))]
    result = claim_lines(code(10), source, Setting.DISPENSED)
    assert [(line.units, line.modifiers) for line in result] == [(40, ())]


def test_plan_reproduces_the_350_mg_example(tmp_path: Path) -> None:
    """End to end: a user code set at 10 mg per unit, an exact dose of 350 mg."""
    table = tmp_path / "codes.csv"
    table.write_text(
        "code,descriptor,product,unit_amount,unit,source\n"
        "J9999,Test drug 10 mg,test,10,mg,docs/billing.md section 3 example\n"
    )
    result = plan(
        {
            "code": "J9999",
            "code_set": "codes.csv",
            "dose": 350,
            "mode": "exact_dose",
            "inventory": [{"ndc": "12345-6789-01", "lot": "V", "amount": 100, "count": 4}],
        },
        base_dir=tmp_path,
    )
    assert [line.to_dict() for line in result.claim_lines] == [
        {
            "code": "J9999",
            "modifiers": [],
            "units": 35,
            "ndc": "12345678901",
            "ndc_quantity": 350,  # N4 quantity in ME (milligrams): what this line bills
            "ndc_unit": "ME",
            "narrative": "",
        },
        {
            "code": "J9999",
            "modifiers": ["JW"],
            "units": 5,
            "ndc": "12345678901",
            "ndc_quantity": 50,
            "ndc_unit": "ME",
            "narrative": "",
        },
    ]
    assert (result.dispensed, result.administered, result.discarded) == (400, 350, 50)


@given(
    st.integers(1, 3000),  # unit amount
    st.lists(st.integers(1, 5000), min_size=1, max_size=4),  # vial content per NDC
    st.fractions(min_value=0, max_value=1),  # share of the last vial left undrawn
)
def test_lines_never_bill_more_than_the_dispensed_content_supports(
    unit: int, contents: list[int], undrawn: Fraction
) -> None:
    """The administered lines bill ceil(administered / unit); a JW line only ever
    bills whole units of what is left, so the lines never exceed what was
    dispensed, rounded up; JW and JZ never appear together; no line is empty."""
    sources = [NdcAmount(f"{i:011d}", Fraction(c), Fraction(c)) for i, c in enumerate(contents)]
    last = sources[-1]
    left = min(last.dispensed * undrawn, last.dispensed - Fraction(1, 10))
    sources[-1] = NdcAmount(last.ndc, last.dispensed, last.dispensed - left)
    dispensed = sum(s.dispensed for s in sources)
    administered = sum(s.administered for s in sources)
    result = claim_lines(code(unit), sources, Setting.ADMINISTERED)
    given_units = sum(line.units for line in result if "JW" not in line.modifiers)
    jw_units = sum(line.units for line in result if "JW" in line.modifiers)
    assert given_units == math.ceil(administered / unit)
    # JW bills every whole unit left, and no more: the largest k for which the
    # lines together stay within the dispensed content
    k = 0
    while (given_units + k + 1) * unit <= dispensed:
        k += 1
    assert jw_units == k
    modifiers = {m for line in result for m in line.modifiers}
    assert not {"JW", "JZ"} <= modifiers
    assert ("JZ" in modifiers) == (k == 0)
    assert all(line.units >= 1 for line in result)


@given(st.integers(1, 10**6), st.lists(st.integers(1, 10**5), min_size=1, max_size=8))
def test_apportion_is_the_largest_remainder_method(total: int, weights: list[int]) -> None:
    """Hamilton's method, stated independently of the code: every share is its
    quota rounded down or up; the shares add up to the total; a share is rounded
    up only if no share rounded down has a larger remainder, or an equal one and
    an earlier place."""
    shares = apportion(total, [Fraction(w) for w in weights])
    assert sum(shares) == total
    whole = sum(weights)
    floors = [total * w // whole for w in weights]
    remainders = [Fraction(total * w, whole) - f for w, f in zip(weights, floors, strict=True)]
    up = [i for i, (s, f) in enumerate(zip(shares, floors, strict=True)) if s == f + 1]
    down = [i for i, (s, f) in enumerate(zip(shares, floors, strict=True)) if s == f]
    assert sorted(up + down) == list(range(len(weights)))
    for i in up:
        for j in down:
            assert remainders[i] > remainders[j] or (remainders[i] == remainders[j] and i < j)


@pytest.mark.parametrize(
    ("total", "weights", "expected"),
    [
        (1, [1, 1], [1, 0]),  # a tie goes to the earlier
        (2, [1, 1, 1], [1, 1, 0]),
        (15, [2060, 1650], [8, 7]),  # 8.35 and 6.65
        # by hand: quotas of 100 over 5,117, 4,400, 162, 161 (of 9,840) are 52.00,
        # 44.72, 1.646, 1.636; floors give 98; the two left go to .72 and .646
        (100, [5117, 4400, 162, 161], [52, 45, 2, 1]),
    ],
)
def test_apportion_known_answers(total: int, weights: list[int], expected: list[int]) -> None:
    assert apportion(total, [Fraction(w) for w in weights]) == expected


def test_a_tie_between_ndcs_gives_the_odd_unit_to_the_ndc_used_first() -> None:
    # 1,250 IU from two NDCs of 625 IU each at 250 IU per unit: 5 units, quotas 2.5 each
    sources = [
        NdcAmount("00000000002", Fraction(625), Fraction(625)),
        NdcAmount("00000000001", Fraction(625), Fraction(625)),
    ]
    result = claim_lines(code(250, "IU"), sources, Setting.ADMINISTERED)
    assert [(line.ndc, line.units) for line in result] == [
        ("00000000002", 3),
        ("00000000001", 2),
    ]


def test_the_jw_line_carries_the_opened_vials_ndc() -> None:
    # 1,500 mg drawn from a 1,000 mg vial of NDC ...1 and a 1,000 mg vial of NDC ...2
    # (drawn last, opened): 500 mg of the second NDC is discarded
    sources = [
        NdcAmount("00000000001", Fraction(1000), Fraction(1000)),
        NdcAmount("00000000002", Fraction(1000), Fraction(500)),
    ]
    result = claim_lines(code(100), sources, Setting.ADMINISTERED)
    assert [(line.ndc, line.units, line.modifiers) for line in result] == [
        ("00000000001", 10, ()),
        ("00000000002", 5, ()),
        ("00000000002", 5, ("JW",)),
    ]


def test_plan_puts_the_opened_vials_ndc_on_the_jw_line() -> None:
    # end to end: the earlier-expiring lot is used first, the other one opened
    result = plan(
        {
            "code": "J7208",
            "dose": 1500,
            "mode": "exact_dose",
            "date_of_service": "2026-11-26",
            "inventory": [
                {
                    "ndc": "0026-3957-10",
                    "lot": "LATE",
                    "amount": 1000,
                    "count": 1,
                    "expires": "2027-12-31",
                },
                {
                    "ndc": "0026-3954-10",
                    "lot": "SOON",
                    "amount": 1000,
                    "count": 1,
                    "expires": "2027-01-31",
                },
            ],
        }
    )
    assert [(v.lot, v.ndc) for v in result.vials] == [
        ("SOON", "00026395410"),
        ("LATE", "00026395710"),
    ]
    jw = [line for line in result.claim_lines if "JW" in line.modifiers]
    assert [(line.ndc, line.units) for line in jw] == [("00026395710", 500)]


def test_several_ndcs_get_one_line_each() -> None:
    sources = [
        NdcAmount("00000000001", Fraction(1650), Fraction(1650)),
        NdcAmount("00000000002", Fraction(2060), Fraction(2060)),
    ]
    result = claim_lines(code(250, "IU"), sources, Setting.ADMINISTERED)
    assert [(line.ndc, line.units, line.modifiers) for line in result] == [
        ("00000000001", 7, ("JZ",)),
        ("00000000002", 8, ("JZ",)),
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1234-5678-90", "01234567890"),  # 4-4-2
        ("12345-678-90", "12345067890"),  # 5-3-2
        ("12345-6789-0", "12345678900"),  # 5-4-1
        ("12345-6789-01", "12345678901"),  # 5-4-2 already
        ("12345678901", "12345678901"),
        (" 0026-3956-10 ", "00026395610"),
    ],
)
def test_ndc_forms(text: str, expected: str) -> None:
    assert normalize_ndc(text) == expected


@pytest.mark.parametrize(
    "text", ["1234567890", "123-4567-89", "12345-67890-1", "abcde-fghi-jk", "", "12345-6789-012"]
)
def test_bad_ndcs_are_refused_with_the_lot_named(text: str) -> None:
    with pytest.raises(InputError, match="inventory lot L1: ndc"):
        plan(
            {
                "code": "J7212",
                "dose": 1000,
                "inventory": [{"ndc": text, "lot": "L1", "amount": 1000, "count": 1}],
            }
        )


@given(st.integers(1, 40_000), st.integers(1, 9_999), st.sampled_from([(), ("KX",)]))
def test_a_line_over_the_limit_splits_into_lines_that_add_up(
    units: int, limit: int, extra: tuple[str, ...]
) -> None:
    """docs/billing.md section 6: lines of at most the limit, the same code and NDC,
    76 on every line after the first and on no other, adding up to the whole."""
    sources = [NdcAmount("00000000001", Fraction(units), Fraction(units))]
    result = claim_lines(
        code(1, "IU"), sources, Setting.DISPENSED, kx=bool(extra), unit_limit=limit
    )
    assert sum(line.units for line in result) == units
    assert all(1 <= line.units <= limit for line in result)
    assert len(result) == -(-units // limit)  # ceil: no empty or extra line
    assert all(line.code == "J9999" and line.ndc == "00000000001" for line in result)
    assert [line.modifiers for line in result] == [extra] + [(*extra, "76")] * (len(result) - 1)


def test_apportion_refuses_weights_that_add_up_to_nothing() -> None:
    with pytest.raises(ValueError, match="positive total weight"):
        apportion(3, [Fraction(0), Fraction(0)])
