"""GS1 element strings from vial and carton barcodes (GS1 General Specifications)."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dosing import InputError
from dosing.billing.catalog import load_catalog
from dosing.shelf import GS, check_digit, parse_element_string

TODAY = dt.date(2026, 11, 27)


def gtin_of(ndc10: str, indicator: str = "0") -> str:
    """A US drug GTIN-14: indicator, 03, the ten NDC digits, the check digit."""
    body = indicator + "03" + ndc10
    return body + str(check_digit(body))


@pytest.mark.parametrize(
    ("digits", "check"),
    [
        ("400638133393", 1),  # EAN-13 4006381333931, GS1's check digit example
        ("1001234567890", 2),  # GTIN-14 10012345678902, GS1 General Specifications
        # by hand: 2x3 + 1 + 2x3 + 8 + 3x3 + 6 + 2x3 + 0 + 0 + 3 + 0 + 0 = 45 -> 5
        ("003002638212", 5),
    ],
)
def test_check_digits(digits: str, check: int) -> None:
    assert check_digit(digits) == check


# openFDA NDC directory: 0026-3821-25 is Kovaltry; its ten digits 0026382125
KOVALTRY = gtin_of("0026382125")


def test_a_scanners_string_with_separators_and_a_symbology_prefix() -> None:
    scan = parse_element_string(f"]d201{KOVALTRY}17270300" + f"10ABC123{GS}21SN0001", today=TODAY)
    assert scan.gtin == KOVALTRY and scan.lot == "ABC123" and scan.serial == "SN0001"
    assert scan.expires == dt.date(2027, 3, 31)  # day 00: the month's last day
    assert scan.ndc10 == "0026382125"
    # the 4-4-2 reading is the catalog's Kovaltry; the others name no product there
    catalog = load_catalog()
    found = [c for c in scan.ndc_candidates if catalog.by_ndc(c) is not None]
    assert found == ["00026382125"] and catalog.by_ndc(found[0]).name == "Kovaltry"  # type: ignore[union-attr]


def test_the_parenthesized_form_people_type() -> None:
    scan = parse_element_string(f"(01){KOVALTRY}(17)270315(10)LOT9(21)X1", today=TODAY)
    assert (scan.lot, scan.serial, scan.expires) == ("LOT9", "X1", dt.date(2027, 3, 15))


def test_fields_in_any_order_and_other_ais_skipped_in_parentheses() -> None:
    scan = parse_element_string(f"(10)L1(30)2(01){KOVALTRY}", today=TODAY)
    assert scan.lot == "L1" and scan.expires is None and scan.serial is None


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("", "scan"),
        (f"17270300{GS}10ABC", "scan"),  # no GTIN
        (f"01{KOVALTRY[:-1]}9", "scan (01)"),  # a wrong check digit: a misread
        (f"01{KOVALTRY}17271300", "scan (17)"),  # month 13
        (f"01{KOVALTRY}17270231", "scan (17)"),  # 31 February
        (f"01{KOVALTRY}1727", "scan (17)"),  # cut short
        (f"01{KOVALTRY}10{'L' * 21}", "scan (10)"),  # a lot past 20 characters
        (f"(01){KOVALTRY}(10)A(10)B", "scan (10)"),  # an AI twice
        (f"01{KOVALTRY}99X", "scan"),  # an AI not read in the run-together form
        (f"(01){KOVALTRY}(21)", "scan (21)"),  # no data
    ],
)
def test_bad_scans_name_the_ai(text: str, field: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_element_string(text, today=TODAY)
    assert caught.value.field == field
    assert "LLLL" not in str(caught.value)  # the scan's content is never quoted


@pytest.mark.parametrize(
    ("yy", "year"), [("26", 2026), ("76", 2076), ("77", 1977), ("99", 1999), ("00", 2000)]
)
def test_the_century_follows_gs1s_sliding_window(yy: str, year: int) -> None:
    # GS1 General Specifications 7.12: from 49 years back to 50 ahead of this year
    scan = parse_element_string(f"01{KOVALTRY}17{yy}0615", today=TODAY)
    assert scan.expires is not None and scan.expires.year == year


@given(
    st.from_regex(r"[0-9]{10}", fullmatch=True),
    st.text(alphabet="ABCDEFGHJKLMNPQRSTUVWXYZ0123456789-", min_size=1, max_size=20),
    st.text(alphabet="0123456789ABCDEF", min_size=1, max_size=20),
    st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2049, 12, 31)),
    st.booleans(),
)
def test_a_built_string_reads_back(
    ndc10: str, lot: str, serial: str, expires: dt.date, parenthesized: bool
) -> None:
    gtin = gtin_of(ndc10)
    date = expires.strftime("%y%m%d")
    text = (
        f"(01){gtin}(17){date}(10){lot}(21){serial}"
        if parenthesized
        else f"01{gtin}17{date}10{lot}{GS}21{serial}"
    )
    scan = parse_element_string(text, today=TODAY)
    assert (scan.gtin, scan.lot, scan.serial, scan.expires) == (gtin, lot, serial, expires)
    assert scan.ndc10 == ndc10 and len(set(scan.ndc_candidates)) >= 1
