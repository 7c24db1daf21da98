"""Code sets: every shipped row is usable, and malformed files are refused clearly."""

from __future__ import annotations

import csv
from fractions import Fraction
from importlib import resources
from pathlib import Path

import pytest

from dosing import CodeSetError, UnknownCodeError, billing_units, load_code_set
from dosing.billing.codesets import REQUIRED_COLUMNS, SHIPPED_CODE_SETS, UNITS_OF_MEASURE


def shipped_rows() -> list[tuple[str, dict[str, str]]]:
    rows = []
    for name in SHIPPED_CODE_SETS:
        data = resources.files("dosing.billing").joinpath("data", "codesets", f"{name}.csv")
        text = data.read_text()
        rows += [(name, row) for row in csv.DictReader(text.splitlines())]
    return rows


@pytest.mark.parametrize(
    ("name", "row"), shipped_rows(), ids=lambda v: v if isinstance(v, str) else v["code"]
)
def test_every_shipped_row_is_usable(name: str, row: dict[str, str]) -> None:
    """Each row loads, names a source, and bills one unit amount as exactly one unit."""
    code = load_code_set(name).lookup(row["code"])
    assert set(REQUIRED_COLUMNS) <= set(row)
    assert code.source.strip() and "docs/billing.md section 1" in code.source
    assert code.unit in UNITS_OF_MEASURE
    assert code.unit_amount == Fraction(row["unit_amount"])
    assert billing_units(code.unit_amount, code.code, code_set=name) == 1
    assert billing_units(code.unit_amount * 7, code.code, code_set=name) == 7
    assert billing_units(code.unit_amount * 7 + Fraction(1, 10), code.code, code_set=name) == 8


def test_spec_and_cms_differ_exactly_on_j7212() -> None:
    """docs/billing.md section 1: spec J7212 = Jivi per 250 IU; CMS J7212 = Sevenfact per mcg."""
    spec, cms = load_code_set("spec"), load_code_set("cms")
    assert set(spec.codes) == set(cms.codes)
    differing = [c for c in spec.codes if spec.codes[c] != cms.codes[c]]
    assert differing == ["J7212"]
    assert (spec.lookup("J7212").unit_amount, spec.lookup("J7212").unit) == (250, "IU")
    assert spec.lookup("J7212").product == spec.lookup("J7208").product
    assert (cms.lookup("J7212").unit_amount, cms.lookup("J7212").unit) == (1, "mcg")
    assert cms.lookup("J7212").factor == "VIIa"
    assert load_code_set().name == "spec"


def test_equivalents_share_a_product() -> None:
    spec = load_code_set("spec")
    assert [c.code for c in spec.equivalents("J7212")] == ["J7208"]
    assert [c.code for c in spec.equivalents("J7208")] == ["J7212"]
    assert load_code_set("cms").equivalents("J7212") == []


def test_lookup_names_close_matches_and_get_returns_none() -> None:
    spec = load_code_set()
    with pytest.raises(UnknownCodeError, match="J7212") as info:
        spec.lookup("J7221")
    assert "J7212" in info.value.matches
    assert isinstance(info.value, LookupError)
    assert spec.get("J9999") is None
    assert spec.lookup(" j7208 ").code == "J7208"


HEADER = "code,descriptor,product,unit_amount,unit,source\n"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "codes.csv"
    path.write_text(text)
    return path


def test_user_csv_works_wherever_a_name_does(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        HEADER + "J7196,Antithrombin,at3,50,IU,CMS HCPCS\n"
        "J9999,Test drug,test,0.1,mg,made up for the test\n",
    )
    assert billing_units(1000, "J7196", code_set=path) == 20
    assert billing_units(1001, "J7196", code_set=path) == 21
    assert billing_units(1.1, "J9999", code_set=path) == 11


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("code,descriptor,unit_amount,unit,source\n", "row 1 (header): missing column(s) product"),
        (HEADER + "J7196,Antithrombin,at3,fifty,IU,x\n", "row 2, column `unit_amount`"),
        (
            HEADER + "J7196,Antithrombin,at3,0,IU,x\n",
            "row 2, column `unit_amount` must be a number > 0",
        ),
        (HEADER + "J7196,Antithrombin,at3,-5,IU,x\n", "row 2, column `unit_amount`"),
        (
            HEADER + "J7196,Antithrombin,at3,50,ml,x\n",
            "row 2, column `unit` must be one of IU, mcg, mg",
        ),
        (HEADER + "J7196,Antithrombin,at3,50,IU,\n", "row 2, column `source`"),
        (HEADER + "7196,Antithrombin,at3,50,IU,x\n", "row 2, column `code`"),
        (
            HEADER + "J7196,A,at3,50,IU,x\nJ7196,A,at3,50,IU,x\n",
            "row 3, column `code` must be unique",
        ),
        (HEADER + "J7196,A,at3,50\n", "row 2: expected 6 columns"),
        (HEADER, "at least one code row"),
    ],
)
def test_malformed_user_csv_is_refused_with_row_and_column(
    tmp_path: Path, text: str, message: str
) -> None:
    with pytest.raises(CodeSetError) as info:
        load_code_set(write(tmp_path, text))
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_unknown_set_name_is_refused() -> None:
    with pytest.raises(CodeSetError, match="`code_set` must be one of spec, cms"):
        load_code_set("medicaid")
