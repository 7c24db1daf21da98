"""Receiving a scanned package: the NDC from the GTIN through the catalog, the
label potency typed in, a serial received once."""

from __future__ import annotations

import datetime as dt
import io
import json
from fractions import Fraction

import pytest

from dosing import InputError
from dosing.cli import main
from dosing.shelf import GS, check_digit, lot_from_scan, open_shelf, parse_element_string

#: Advate 1000 IU, NDC 0944-3053-02 (openFDA NDC directory; the catalog lists it):
#: indicator 0, the US prefix 03, the ten NDC digits, the check digit.
ADVATE = "003" + "0944305302"
ADVATE_GTIN = ADVATE + str(check_digit(ADVATE))
#: ten digits no catalog product has: their NDC must be given
UNKNOWN = "003" + "1234567890"
UNKNOWN_GTIN = UNKNOWN + str(check_digit(UNKNOWN))


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    return main(list(argv), out=out, err=err), out.getvalue(), err.getvalue()


def test_a_catalog_gtin_gives_the_ndc_and_the_product() -> None:
    scan = parse_element_string(f"01{ADVATE_GTIN}1728050010ADV123{GS}21SN1")
    lot = lot_from_scan(scan, amount=Fraction(1043))
    assert (lot.lot, lot.ndc, lot.product, lot.count) == ("ADV123", "00944305302", "Advate", 1)
    assert lot.expires == dt.date(2028, 5, 31)  # day 00: the month's last day
    assert lot.amount == 1043


def test_an_unknown_gtin_needs_one_of_its_ndcs() -> None:
    scan = parse_element_string(f"(01){UNKNOWN_GTIN}(17)280131(10)X1(21)S1")
    with pytest.raises(InputError, match="one of 01234-5678-90, 12345-0678-90, 12345-6789-00"):
        lot_from_scan(scan, amount=Fraction(500))
    with pytest.raises(InputError, match="`ndc` must be the NDC in the scanned GTIN"):
        lot_from_scan(scan, amount=Fraction(500), ndc="99999-9999-99")
    lot = lot_from_scan(scan, amount=Fraction(500), ndc="12345-678-90", product="advate")
    assert (lot.ndc, lot.product) == ("12345067890", "Advate")
    assert lot_from_scan(scan, amount=Fraction(500), ndc="1234-5678-90").product is None


@pytest.mark.parametrize(
    ("code", "message"),
    [
        (f"(01){ADVATE_GTIN}(17)280500", "`scan (10)` must be a lot number"),
        (f"(01){ADVATE_GTIN}(10)A1", "`scan (17)` must be an expiry date"),
        # a scanner that dropped the GS after the lot: the serial runs into it
        (f"01{ADVATE_GTIN}1728050010ADV12421SN0002", "`scan (21)` must be a serial number"),
    ],
)
def test_a_package_must_be_traceable_and_dated(code: str, message: str) -> None:
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        lot_from_scan(parse_element_string(code), amount=Fraction(1000))


def test_the_catalog_and_a_named_product_must_agree() -> None:
    scan = parse_element_string(f"(01){ADVATE_GTIN}(17)280500(10)A1(21)S1")
    with pytest.raises(InputError, match="`product` must be Advate, the drug of NDC"):
        lot_from_scan(scan, amount=Fraction(1000), product="Jivi")
    with pytest.raises(InputError, match="`count` must be a whole number of vials >= 1"):
        lot_from_scan(scan, amount=Fraction(1000), count=0)
    with pytest.raises(InputError, match="amount"):
        lot_from_scan(scan, amount=Fraction(-5))


def test_receive_by_scan_and_a_serial_only_once(db_url: str) -> None:
    scanned = f"]d201{ADVATE_GTIN}17280500" + f"10ADV123{GS}21SN0001"
    base = ("shelf", "--db", db_url, "receive", "--by", "ana", "--amount", "1043")
    code, out, _ = run(*base, "--scan", scanned, "--json")
    assert code == 0 and json.loads(out) == {
        "lot": "ADV123",
        "ndc": "00944305302",
        "product": "Advate",
        "amount": 1043.0,
        "expires": "2028-05-31",
        "serial": "SN0001",
        "vials": 1,
    }
    # the same package typed by hand, with parentheses: refused, nothing recorded
    code, _, err = run(*base, "--scan", f"(01){ADVATE_GTIN}(17)280500(10)ADV123(21)SN0001")
    assert code == 2 and "`scan (21)` must be a serial not received before" in err
    code, out, _ = run(*base, "--scan", f"(01){ADVATE_GTIN}(17)280500(10)ADV123(21)SN0002")
    assert code == 0 and out.startswith("Received 1 vial of lot ADV123 (Advate, NDC 00944305302")
    shelf = open_shelf(db_url)
    assert [(x.lot, x.count) for x in shelf.stock()] == [("ADV123", 2)]
    # a serial at another site is the same package: refused there too
    code, _, err = run(
        "shelf", "--db", db_url, "--site", "north", "receive", "--by", "bo", "--amount", "1043",
        "--scan", scanned,
    )  # fmt: skip
    assert code == 2 and "serial not received before" in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--scan", f"(01){ADVATE_GTIN}(17)280500(10)A"], "--scan needs --amount IU"),
        (["x.csv", "--amount", "5"], "--amount goes with --scan"),
        (["x.csv", "--scan", "(01)1"], "give an inventory CSV or --scan CODE, one of them"),
        ([], "give an inventory CSV or --scan CODE, one of them"),
        (["--scan", f"(01){ADVATE_GTIN[:-1]}0(10)A", "--amount", "5"], "check digit"),
        (["--scan", f"(01){ADVATE_GTIN}(17)280500(10)A", "--amount", "lots"], "`amount`"),
    ],
)
def test_bad_receive_lines_are_exit_2(tmp_path: object, argv: list[str], message: str) -> None:
    code, _, err = run("shelf", "--db", "sqlite://", "receive", "--by", "ana", *argv)
    assert code == 2 and message in err
