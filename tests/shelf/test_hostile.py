"""Bad input thrown at the shelf's commands, as a new user's trial did: every
one a single line naming the field and exit 2, nothing recorded, no traceback."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pytest

from dosing.cli import main
from dosing.shelf import open_shelf
from tests.paths import EXAMPLES


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    return main(list(argv), out=out, err=err), out.getvalue(), err.getvalue()


@pytest.fixture
def db(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'shelf.db'}"
    assert (
        run("shelf", "--db", url, "receive", str(EXAMPLES / "shelf-inventory.csv"), "--by", "rx")[0]
        == 0
    )
    return url


def log_of(url: str) -> list[dict[str, object]]:
    return open_shelf(url).log()


@pytest.mark.parametrize(
    "content", [b"just some text\n" * 50, os.urandom(4096), b"SQLite format 3\x00" + b"\x00" * 100]
)
def test_a_file_that_is_not_a_database(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "notdb.db"
    path.write_bytes(content)
    code, _, err = run("shelf", "--db", f"sqlite:///{path}", "list")
    assert code == 4 and err.count("\n") == 1 and str(path) in err  # a ledger error, named
    assert "not a SQLite database" in err or "damaged" in err
    assert path.read_bytes() == content  # and it is left as it was


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("", "`db` must be a database URL"),
        ("sqlite://", "an in-memory one keeps nothing"),
        ("sqlite:///:memory:", "an in-memory one keeps nothing"),
        ("nosuch://x", "`db` must be a database URL"),
    ],
)
def test_database_urls_that_keep_nothing_or_mean_nothing(url: str, message: str) -> None:
    code, _, err = run("shelf", "--db", url, "list")
    assert code == 2 and message in err


def test_a_bad_environment_url_is_named_as_such(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FACTORDOSE_DB", "nosuch://x")
    code, _, err = run("shelf", "list")
    assert code == 2 and "`FACTORDOSE_DB` must be a database URL" in err


@pytest.mark.parametrize(
    "argv",
    [
        ["void", "9" * 30, "--reason", "x", "--by", "rx"],
        ["return", "9" * 30, "--by", "rx"],
        ["return", "0", "--by", "rx"],
    ],
)
def test_dispense_ids_past_any_on_record(db: str, argv: list[str]) -> None:
    code, _, err = run("shelf", "--db", db, *argv)
    assert code == 2 and "`dispense` must be a dispense on record" in err


@pytest.mark.parametrize(
    ("argv", "field"),
    [
        (["waste", "JV5K21", "--count", "1", "--reason", "x", "--by", "rx\x1b[31m"], "by"),
        (["waste", "JV5K21", "--count", "1", "--reason", "x", "--by", "  "], "by"),
        (["waste", "JV5K21", "--count", "1", "--reason", "a\nb", "--by", "rx"], "reason"),
        (["waste", "JV5K21", "--count", "1", "--reason", "x" * 201, "--by", "rx"], "reason"),
        (["waste", "JV5K21", "--count", "1", "--reason", "x", "--by", "r\u202ex"], "by"),
        (["waste", "JV5K21", "--count", str(10**20), "--reason", "x", "--by", "rx"], "count"),
        (["receive", str(EXAMPLES / "shelf-inventory.csv"), "--by", ""], "by"),
        (["log", "--since", "2026-11-28", "--until", "2026-11-20"], "since"),
        (["log", "--lot", "NOPE"], "lot"),
    ],
)
def test_names_counts_and_windows_are_checked(db: str, argv: list[str], field: str) -> None:
    before = log_of(db)
    code, _, err = run("shelf", "--db", db, *argv)
    assert code == 2 and err.startswith(f"factordose: error: `{field}`") and err.count("\n") == 1
    assert "\x1b" not in err and "\u202e" not in err
    assert log_of(db) == before


def test_a_huge_scan_count_is_refused(db: str) -> None:
    code, _, err = run(
        "shelf", "--db", db, "receive", "--scan", "(01)00309443053025(17)280500(10)A1(21)S1",
        "--amount", "1000", "--count", str(10**20), "--by", "rx",
    )  # fmt: skip
    assert code == 2 and "`lot A1: count` must be at most 100,000 vials" in err


def test_expiring_days_past_the_calendar(db: str) -> None:
    code, out, _ = run("shelf", "--db", db, "list", "--expiring-days", str(10**14), "--json")
    assert code == 0 and all(row["expiring"] or row["expired"] for row in json.loads(out))


def test_a_lot_of_no_known_drug_is_not_received(db: str, tmp_path: Path) -> None:
    csv = tmp_path / "inventory.csv"
    csv.write_text("ndc,lot,amount,count,expires,product\n,OK1,500,2,2028-01-31,Jivi\n"
                   ",L5,500,2,2028-01-31,NotADrug\n,L6,500,2,2028-01-31,\n")  # fmt: skip
    before = log_of(db)
    code, _, err = run("shelf", "--db", db, "receive", str(csv), "--by", "rx")
    assert code == 2 and "`lot L5: product` must be a product of the catalog" in err
    csv.write_text("ndc,lot,amount,count,expires,product\n,L6,500,2,2028-01-31,\n")
    code, _, err = run("shelf", "--db", db, "receive", str(csv), "--by", "rx")
    assert code == 2 and "`lot L6` must be a drug the catalog knows" in err
    assert log_of(db) == before  # not even the good row: a file is received whole or not at all


def test_returns_of_nothing_are_refused(db: str) -> None:
    shelf = open_shelf(db)
    given = shelf.dispense({"JV5K21": 2}, user="rx", patient="P-1")
    code, _, err = run(
        "shelf", "--db", db, "return", str(given), "--lot", "JV5K21", "--count", "0", "--by", "rx"
    )
    assert code == 2 and "`count` must be a whole number of vials from 1" in err
    code, _, err = run(
        "shelf", "--db", db, "return", str(given), "--lot", "JV5K21", "--count", "-1", "--by", "rx"
    )
    assert code == 2 and "from 1 to" in err
    assert (
        run("shelf", "--db", db, "void", str(given), "--reason", "entered twice", "--by", "rx")[0]
        == 0
    )
    code, _, err = run("shelf", "--db", db, "return", str(given), "--by", "rx")
    assert code == 2 and "a dispense with vials still out" in err
    voided = [m for m in shelf.log(patient="P-1") if m["kind"] == "adjust"]
    assert len(voided) == 1  # the void is in the patient's history


def test_the_patient_of_a_dispense_is_the_order_s(db: str, tmp_path: Path) -> None:
    order = tmp_path / "order.json"
    order.write_text((EXAMPLES / "shelf-order.json").read_text())  # patient P-17
    base = ("plan", str(order), "--shelf", "--db", db)
    code, _, err = run(*base, "--dispense", "--by", "rx", "--patient", "PT-Z")
    assert code == 2 and "`patient` must be the order's own patient_id" in err
    code, _, err = run(*base, "--patient", "P-17")
    assert code == 2 and "--patient is whom the dispense is for" in err
    code, _, err = run(*base, "--dispense", "--by", "rx", "--patient", "")
    assert code == 2
    assert open_shelf(db).log(user="rx")[-1]["kind"] == "receive"  # nothing dispensed
