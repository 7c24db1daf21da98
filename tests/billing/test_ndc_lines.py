"""NDC quantities, the multi-NDC policy, MUEs and 340B on claim lines
(docs/billing.md sections 6 and 9)."""

from __future__ import annotations

import io
import json
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dosing import InputError, plan
from dosing.audit.checker import Checker
from dosing.audit.claimfile import rows_from_plan
from dosing.billing.claims import NdcAmount, claim_lines
from dosing.billing.codesets import BillingCode
from dosing.billing.mue import parse_mue_table
from dosing.billing.payers import PayerProfileError, parse_payer
from dosing.cli import main
from dosing.orders import Setting
from tests.audit.test_checks import SUBMITTED, write

IU = BillingCode("J7208", "Jivi", "jivi", Fraction(1), "IU", "test")
NDCS = ["11111111111", "22222222222", "33333333333"]


def exact(value: Fraction) -> Decimal:
    return (Decimal(value.numerator) / Decimal(value.denominator)).quantize(Decimal("0.001"))


@given(
    amounts=st.lists(st.tuples(st.integers(200, 3200), st.integers(1, 6)), min_size=1, max_size=3),
    drawn_pct=st.integers(1, 100),
    unit=st.sampled_from([1, 10, 250]),
    limit=st.one_of(st.none(), st.integers(1, 40)),
)
def test_ndc_quantities_add_up_to_what_each_ndc_gives(
    amounts: list[tuple[int, int]], drawn_pct: int, unit: int, limit: int | None
) -> None:
    code = BillingCode("J7208", "Jivi", "jivi", Fraction(unit), "IU", "test")
    sources = []
    dispensed = [Fraction(a * n) for a, n in amounts]
    total = sum(dispensed)
    discard = dispensed[-1] * (100 - drawn_pct) / 100  # drawn from the last NDC last
    for i, ((_amount, count), given_) in enumerate(zip(amounts, dispensed, strict=True)):
        last = i == len(amounts) - 1
        sources.append(
            NdcAmount(NDCS[i], given_, given_ - (discard if last else 0), count, Fraction(5, 2))
        )
    assert total > 0
    lines = claim_lines(code, sources, Setting.ADMINISTERED, unit_limit=limit)
    for source in sources:
        own = [line for line in lines if line.ndc == source.ndc and "JW" not in line.modifiers]
        mentioned = any(source.ndc in line.narrative for line in lines)
        if own:
            assert sum(line.ndc_quantity for line in own) == exact(source.administered)  # type: ignore[misc]
            assert all(line.ndc_unit == "F2" for line in own)
        else:
            assert mentioned  # its share rounded to no unit: named in the narrative
    for line in lines:
        if "JW" in line.modifiers and "76" not in line.modifiers:
            jw = [x for x in lines if "JW" in x.modifiers]
            assert sum(x.ndc_quantity for x in jw) == exact(discard)  # type: ignore[misc]


def test_one_line_puts_the_other_ndcs_in_the_narrative() -> None:
    sources = [
        NdcAmount("11111111111", Fraction(1000), Fraction(1000), 1),
        NdcAmount("22222222222", Fraction(2000), Fraction(1950), 1),
    ]
    per_ndc = claim_lines(IU, sources, Setting.ADMINISTERED)
    one = claim_lines(IU, sources, Setting.ADMINISTERED, multi_ndc="one_line")
    assert [line.units for line in per_ndc] == [1000, 1950, 50]
    given_line, jw = one
    assert (given_line.ndc, given_line.units, given_line.ndc_quantity) == (
        "22222222222",
        2950,
        Decimal(1950),
    )
    assert given_line.narrative == "NDC 11111111111 F2 1000"
    assert jw.modifiers == ("JW",) and jw.ndc == "22222222222" and jw.units == 50


def test_vials_and_millilitres_as_the_ndc_unit() -> None:
    # 3 vials of 1,000 IU, 2.5 mL each (Jivi's label: 2.5 mL diluent), 2,500 IU given
    source = [NdcAmount("11111111111", Fraction(3000), Fraction(2500), 3, Fraction(5, 2))]
    vials = claim_lines(IU, source, Setting.ADMINISTERED, ndc_unit="UN")
    assert [(line.ndc_quantity, line.ndc_unit) for line in vials] == [
        (Decimal("2.5"), "UN"),
        (Decimal("0.5"), "UN"),
    ]
    ml = claim_lines(IU, source, Setting.ADMINISTERED, ndc_unit="ML")
    assert [line.ndc_quantity for line in ml] == [Decimal("6.25"), Decimal("1.25")]
    unknown = claim_lines(
        IU,
        [NdcAmount("11111111111", Fraction(3000), Fraction(2500), 3)],
        Setting.ADMINISTERED,
        ndc_unit="ML",
    )
    assert all(line.ndc_quantity is None and line.ndc_unit is None for line in unknown)


def test_novoseven_quantities_are_in_milligrams() -> None:
    # 837P CTP05 ME: NovoSeven RT bills per 1 mcg (J7189), its NDC quantity in mg
    shelf = [{"lot": "N1", "amount": 1000, "count": 7, "ndc": "0169-7201-01"}]
    planned = plan(
        {
            "code": "J7189",
            "code_set": "cms",
            "dose": 6300,
            "mode": "exact_dose",
            "payer": "medicare",
            "inventory": shelf,
        }
    )
    assert [(line.ndc_quantity, line.ndc_unit) for line in planned.claim_lines] == [
        (Decimal("6.3"), "ME"),
        (Decimal("0.7"), "ME"),
    ]


def medicare_order(**extra: object) -> dict[str, object]:
    return {
        "code": "J7208",
        "weight_kg": 72.5,
        "dose_per_kg": 50,
        "mode": "exact_dose",
        "payer": "medicare",
        "date_of_service": "2026-11-26",
        "diagnosis_codes": ["D66"],
        "patient_id": "P1",
        # no volume known: the exact dose is drawn as ordered (no syringe rounding)
        "inventory": [{"ndc": "12345-6789-01", "lot": "A1", "amount": 1030, "count": 4}],
        **extra,
    }


def test_a_340b_drug_carries_the_payers_modifier_on_every_line(tmp_path: Path) -> None:
    planned = plan(medicare_order(**{"340b": True}))
    assert [line.modifiers for line in planned.claim_lines] == [("TB",), ("JW", "TB")]
    rows = rows_from_plan(planned, claim_id="C1", submission_date=SUBMITTED)
    checker = Checker()
    assert [f.rule.id for r in checker.check_file(write(tmp_path, rows)) for f in r.findings] == []
    stripped = [{**row, "modifiers": row["modifiers"].replace("TB", "")} for row in rows]
    found = [f.rule.id for r in Checker().check_file(write(tmp_path, stripped)) for f in r.findings]
    assert found == ["340b-modifier-missing", "340b-modifier-missing"]
    assert not any("TB" in line.modifiers for line in plan(medicare_order()).claim_lines)


def test_a_340b_order_without_a_payer_modifier_is_warned_about() -> None:
    planned = plan({**medicare_order(**{"340b": True}), "payer": None})
    assert any("340B-acquired" in w for w in planned.warnings)


CMS_MUE = (
    "CMS practitioner services MUE table (a sample in its layout, illustrative values)\n"
    "\n"
    '"HCPCS/CPT Code","Practitioner Services MUE Values","MUE Adjudication Indicator",'
    '"MUE Rationale"\n'
    'J7208,3000,"1 Line Edit","Clinical: Data"\n'
    'J7212,3000,"3 Date of Service Edit: Clinical","Clinical: Data"\n'
)


def test_the_cms_mue_layout_is_read() -> None:
    table = parse_mue_table(CMS_MUE, "mue.csv")
    assert (table["J7208"].units, table["J7208"].mai) == (3000, 1)
    assert table["J7212"].mai == 3


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("code,value\n", "a header with HCPCS"),
        ('"HCPCS/CPT Code","X MUE Values","MUE Adjudication Indicator"\n', "at least one row"),
        ('"HCPCS/CPT Code","X MUE Values","MUE Adjudication Indicator"\nJ7208,ten,1\n', "row 2"),
        ('"HCPCS/CPT Code","X MUE Values","MUE Adjudication Indicator"\nJ7208,10,7\n', "row 2"),
        ('"HCPCS/CPT Code","X MUE Values","MUE Adjudication Indicator"\nJ7208,10\n', "row 2"),
    ],
)
def test_a_malformed_mue_table_is_refused_by_row(text: str, needle: str) -> None:
    with pytest.raises(InputError, match=needle):
        parse_mue_table(text, "mue.csv")


def test_a_line_edit_splits_lines_and_a_date_edit_warns(tmp_path: Path) -> None:
    table = parse_mue_table(CMS_MUE, "mue.csv")
    planned = plan(medicare_order(), mue=table)
    # 3,625 IU given, 495 IU discarded: 3,000 + 625 (76), then the JW line
    assert [(line.units, line.modifiers) for line in planned.claim_lines] == [
        (3000, ()),
        (625, ("76",)),
        (495, ("JW",)),
    ]
    date_edit = {"J7208": table["J7212"].__class__("J7208", 3000, 3)}
    warned = plan(medicare_order(), mue=date_edit)
    assert any("MUE of 3,000 per date of service (MAI 3)" in w for w in warned.warnings)
    rows = rows_from_plan(warned, claim_id="C1", submission_date=SUBMITTED)
    found = Checker(mue=date_edit).check_file(write(tmp_path, rows))
    assert [f.rule.id for r in found for f in r.findings] == ["mue-exceeded"]


def test_mue_from_the_command_line(tmp_path: Path) -> None:
    (tmp_path / "mue.csv").write_text(CMS_MUE)
    (tmp_path / "order.json").write_text(json.dumps(medicare_order()))
    out = io.StringIO()
    code = main(
        ["plan", str(tmp_path / "order.json"), "--json", "--mue", str(tmp_path / "mue.csv")],
        out=out,
        err=io.StringIO(),
    )
    assert code == 0
    assert [line["units"] for line in json.loads(out.getvalue())["claim_lines"]] == [3000, 625, 495]
    err = io.StringIO()
    assert (
        main(
            ["plan", str(tmp_path / "order.json"), "--mue", str(tmp_path / "none.csv")],
            out=io.StringIO(),
            err=err,
        )
        == 2
    )
    # the loader's reason, not argparse's "invalid mue_arg value"
    assert "must be a readable CSV of the CMS MUE table" in err.getvalue()
    assert "mue_arg" not in err.getvalue()


@pytest.mark.parametrize(
    ("toml", "key"),
    [
        ('multi_ndc = "per_line"', "multi_ndc"),
        ('[ndc_units]\nIU = "XX"', "ndc_units.IU"),
        ('[340b]\nmodifier = "JZ"', "340b.modifier"),
        ("[340b]\nall_claims = true", "340b.modifier"),
        ("[mue]\nJ7208 = {units = 10, mai = 4}", "mue.J7208.mai"),
        ("[mue]\nJ7208 = 10", "mue.J7208"),
    ],
)
def test_new_profile_keys_are_checked(toml: str, key: str) -> None:
    head = 'name = "x"\ndescription = "x"\nsource = "x"\nfiling_window_days = 90\n'
    with pytest.raises(PayerProfileError, match=f"`{key}`"):
        parse_payer(head + toml, "x.toml")


def test_a_one_line_payer_gets_one_line_and_the_worksheet_shows_the_narrative(
    tmp_path: Path,
) -> None:
    from dosing.cli.worksheet import worksheet

    (tmp_path / "one.toml").write_text(
        'name = "one"\ndescription = "one line"\nsource = "test"\nfiling_window_days = 90\n'
        'multi_ndc = "one_line"\n'
    )
    shelf = [
        {"ndc": "11111-1111-11", "lot": "A", "amount": 2000, "count": 1},
        {"ndc": "22222-2222-22", "lot": "B", "amount": 1625, "count": 1},
    ]
    planned = plan(
        {"code": "J7208", "dose": 3625, "payer": "one.toml", "inventory": shelf},
        base_dir=tmp_path,
    )
    [line] = planned.claim_lines
    assert (line.ndc, line.units, line.ndc_quantity) == ("11111111111", 3625, Decimal(2000))
    assert line.narrative == "NDC 22222222222 F2 1625"
    text = worksheet(planned)
    assert "NDC 11111111111, F2 2000" in text
    assert "narrative (item 19 / NTE): NDC 22222222222 F2 1625" in text


def test_an_mue_of_zero_means_not_payable(tmp_path: Path) -> None:
    table = parse_mue_table(
        '"HCPCS/CPT Code","Practitioner Services MUE Values","MUE Adjudication Indicator"\n'
        'J7208,0,"1 Line Edit"\n',
        "mue.csv",
    )
    planned = plan(medicare_order(), mue=table)
    assert any("MUE of 0 for J7208" in w for w in planned.warnings)
    rows = rows_from_plan(planned, claim_id="C1", submission_date=SUBMITTED)
    found = Checker(mue=table).check_file(write(tmp_path, rows))
    assert "mue-exceeded" in [f.rule.id for r in found for f in r.findings]
