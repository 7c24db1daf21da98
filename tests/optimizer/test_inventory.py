"""Inventory: lots from records and CSV, with errors naming the lot and field."""

from __future__ import annotations

import datetime as dt
from fractions import Fraction
from pathlib import Path

import pytest

from optimizer import InventoryError, Lot, lots_from_records, read_inventory_csv, textfile
from optimizer.inventory import parse_inventory_csv


def test_records_become_lots_with_ndc_untouched() -> None:
    lots = lots_from_records(
        [
            {
                "ndc": "12345-6789-01",
                "lot": "A1",
                "amount": 1030,
                "count": 4,
                "expires": "2027-06-30",
            },
            {"lot": "B2", "amount": 1062.5, "count": 0},
        ]
    )
    assert lots[0] == Lot("A1", Fraction(1030), 4, "12345-6789-01", dt.date(2027, 6, 30))
    assert lots[1].amount == Fraction(2125, 2) and lots[1].count == 0 and lots[1].ndc is None


def test_csv_with_optional_expiry_and_decimal_potency(tmp_path: Path) -> None:
    path = tmp_path / "inventory.csv"
    path.write_text(
        "ndc,lot,amount,count,expires\n"
        "12345-6789-01,A1,1030,4,2027-06-30\n"
        "12345678901,B2,1062.5,2,\n"
    )
    lots = read_inventory_csv(path)
    assert [lot.lot for lot in lots] == ["A1", "B2"]
    assert lots[1].expires is None and lots[1].amount == Fraction(2125, 2)
    assert parse_inventory_csv("ndc,lot,amount,count\n,C3,500,1\n")[0].ndc is None


@pytest.mark.parametrize(
    ("records", "field", "expected"),
    [
        ([{"lot": "A1", "amount": 0, "count": 1}], "inventory[0] (lot A1): amount", "> 0"),
        ([{"lot": "A1", "amount": -5, "count": 1}], "inventory[0] (lot A1): amount", "> 0"),
        ([{"lot": "A1", "amount": "1000", "count": 1}], "inventory[0] (lot A1).amount", "not text"),
        ([{"lot": "A1", "amount": 1000, "count": -1}], "inventory[0] (lot A1).count", ">= 0"),
        ([{"lot": "A1", "amount": 1000, "count": 1.5}], "inventory[0] (lot A1).count", "whole"),
        (
            [{"lot": "A1", "amount": 1000, "count": 1, "expires": "2027-13-01"}],
            "inventory[0] (lot A1).expires",
            "a date YYYY-MM-DD",
        ),
        (
            [{"lot": "A1", "amount": 1000, "count": 1, "potency": 3}],
            "inventory[0].potency",
            "one of the keys",
        ),
        ([{"amount": 1000, "count": 1}], "inventory[0].lot", "present"),
        (
            [{"lot": "A1", "amount": 1, "count": 1}, {"lot": "A1", "amount": 2, "count": 1}],
            "inventory: lot A1",
            "listed once",
        ),
        ("A1", "inventory", "a list of lots"),
        (
            [{"lot": "A1", "amount": 1000, "count": 1, "ndc": 12345678901}],
            "inventory[0] (lot A1).ndc",
            "text",
        ),
    ],
)
def test_bad_records_name_the_lot_and_field(records: object, field: str, expected: str) -> None:
    with pytest.raises(InventoryError) as info:
        lots_from_records(records)  # type: ignore[arg-type]
    assert info.value.field == field
    assert expected in str(info.value)


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("ndc,lot,count\n", "inventory header"),
        ("ndc,lot,amount,count\nX,A1,abc,2\n", "row 2, column amount"),
        ("ndc,lot,amount,count\nX,A1,100,two\n", "row 2, column count"),
        ("ndc,lot,amount,count,expires\nX,A1,100,2,30/06/2027\n", "column expires"),
        ("ndc,lot,amount,count\nX,,100,2\n", "row 2, column lot"),
        ("ndc,lot,amount,count\nX,A1,100,2\nY,A1,200,1\n", "lot A1"),
    ],
)
def test_bad_csv_rows_name_row_and_column(text: str, needle: str) -> None:
    with pytest.raises(InventoryError, match="must be") as info:
        parse_inventory_csv(text)
    assert needle in str(info.value)


def test_an_inventory_file_is_read_whole_only_up_to_the_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(textfile, "MAX_BYTES", 64)
    path = tmp_path / "stock.csv"
    path.write_text("lot,amount,count\n" + "A,1000,1\n" * 10)
    with pytest.raises(InventoryError, match="a CSV file of at most"):
        read_inventory_csv(path)
    path.write_bytes(b"lot,amount,count\nA,1000,1\n\xff\n")
    with pytest.raises(InventoryError, match="line 3 is not UTF-8"):
        read_inventory_csv(path)


@pytest.mark.parametrize(
    ("header", "meant"),
    [
        ("ndc,lot,amount,count,expiry", "expires"),  # read as absent: expired vials used
        ("ndc,lot,amount,count,Product", "product"),
        ("ndc,lot,amount,count,EXPIRES", "expires"),
        ("ndc,lot_number,amount,count,lot", "lot"),
    ],
)
def test_a_misspelled_column_is_refused_not_ignored(header: str, meant: str) -> None:
    row = ",".join(["", "A1", "100", "1", "2025-01-01"][: header.count(",") + 1])
    with pytest.raises(InventoryError, match=f"`{meant}`, not a column like it"):
        parse_inventory_csv(f"{header}\n{row}\n")


def test_unrelated_extra_columns_are_allowed() -> None:
    [lot] = parse_inventory_csv("ndc,lot,amount,count,description,price\n,A1,100,1,x,9\n")
    assert lot.lot == "A1"
