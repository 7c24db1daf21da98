"""``factordose shelf``: receive an inventory CSV, list, export, recall."""

from __future__ import annotations

import io
import json
from pathlib import Path

from dosing.cli import main
from dosing.shelf.store import open_shelf
from optimizer.inventory import parse_inventory_csv
from tests.paths import EXAMPLES


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    return main(list(argv), out=out, err=err), out.getvalue(), err.getvalue()


def test_receive_list_export_and_recall(db_url: str) -> None:
    code, out, _ = run(
        "shelf", "--db", db_url, "receive", str(EXAMPLES / "shelf-inventory.csv"), "--by", "rx1", "--json"
    )
    assert code == 0 and json.loads(out) == {"lots": 6, "vials": 17}
    code, out, _ = run("shelf", "--db", db_url, "list", "--json", "--as-of", "2027-04-01")
    rows = json.loads(out)
    assert code == 0 and sum(r["count"] for r in rows) == 17
    assert {r["lot"] for r in rows if r["expired"]} == {"JV5K21"}  # expired 2027-03-31
    assert not any(r["expiring"] for r in rows)  # the next expiry is 2027-05-31
    # the export is an inventory CSV again: the same lots, vials and labels
    code, out, _ = run("shelf", "--db", db_url, "export")
    exported = {lot.lot: lot for lot in parse_inventory_csv(out)}
    original = {
        lot.lot: lot for lot in parse_inventory_csv((EXAMPLES / "shelf-inventory.csv").read_text())
    }
    assert exported == original
    shelf = open_shelf(db_url)
    shelf.dispense({"JV5K21": 3}, user="rx2", patient="P-1001")
    shelf.close()
    code, out, _ = run("shelf", "--db", db_url, "recall", "JV5K21")
    assert code == 0 and "patient P-1001  3 vials  by rx2" in out
    code, out, _ = run("shelf", "--db", db_url, "recall", "JV1B02")
    assert code == 0 and "No dispense of lot JV1B02" in out
    code, _, err = run("shelf", "--db", db_url, "recall", "NOPE")  # mistyped: not "none"
    assert code == 2 and "`lot` must be a lot on the shelf (received here)" in err


def test_bad_input_is_exit_2(tmp_path: Path) -> None:
    code, _, err = run("shelf", "--db", "nope://x", "list")
    assert code == 2 and "`db` must be a database URL" in err
    bad = tmp_path / "bad.csv"
    bad.write_text("ndc,lot,amount,count,expiry\n,A,100,1,2027-01-01\n")
    code, _, err = run(
        "shelf", "--db", f"sqlite:///{tmp_path / 's.db'}", "receive", str(bad), "--by", "rx"
    )
    assert code == 2 and "`expires`, not a column like it" in err


def test_waste_return_and_log_from_the_command_line(db_url: str) -> None:
    run("shelf", "--db", db_url, "receive", str(EXAMPLES / "shelf-inventory.csv"), "--by", "rx1")
    code, out, _ = run(
        "shelf",
        "--db",
        db_url,
        "waste",
        "JV2C19",
        "--count",
        "3",
        "--reason",
        "damaged",
        "--by",
        "rx1",
    )
    assert code == 0 and "Wasted 3 vials of lot JV2C19 (damaged)" in out
    shelf = open_shelf(db_url)
    given = shelf.dispense({"JV5K21": 2}, user="rx2", patient="P-7")
    shelf.close()
    code, out, _ = run(
        "shelf",
        "--db",
        db_url,
        "return",
        str(given),
        "--lot",
        "JV5K21",
        "--count",
        "1",
        "--by",
        "rx2",
    )
    assert code == 0 and "Returned 1 vial of dispense" in out
    code, out, _ = run("shelf", "--db", db_url, "log", "--lot", "JV5K21", "--json")
    kinds = [json.loads(line)["kind"] for line in out.splitlines()]
    assert code == 0 and kinds == ["receive", "dispense", "return"]
    code, _, err = run(
        "shelf",
        "--db",
        db_url,
        "waste",
        "JV5K21",
        "--count",
        "9",
        "--reason",
        "damaged",
        "--by",
        "rx1",
    )
    assert code == 2 and "`count` must be at most the 3 vials of lot JV5K21 on hand" in err


def test_void_from_the_command_line(db_url: str) -> None:
    run("shelf", "--db", db_url, "receive", str(EXAMPLES / "shelf-inventory.csv"), "--by", "rx1")
    shelf = open_shelf(db_url)
    given = shelf.dispense({"JV2C19": 1}, user="rx2", patient="P-9")
    shelf.close()
    code, out, _ = run(
        "shelf", "--db", db_url, "void", str(given), "--reason", "entered twice", "--by", "rx1"
    )
    assert code == 0 and f"Voided dispense {given}: 1 vial back on the shelf." in out
    code, _, err = run("shelf", "--db", db_url, "void", "12345", "--reason", "x", "--by", "rx1")
    assert code == 2 and "a dispense on record" in err


def test_a_database_that_cannot_be_opened_is_exit_2(tmp_path: Path) -> None:
    for url in (f"sqlite:///{tmp_path}", f"sqlite:///{tmp_path / 'no' / 'such' / 'x.db'}"):
        code, _, err = run("shelf", "--db", url, "list")
        assert code == 2 and "`db` must be a database that can be opened" in err


def test_the_log_by_day(db_url: str) -> None:
    run("shelf", "--db", db_url, "receive", str(EXAMPLES / "shelf-inventory.csv"), "--by", "rx1")
    every = run("shelf", "--db", db_url, "log", "--since", "2000-01-01", "--until", "9999-12-31")
    assert every[0] == 0 and len(every[1].splitlines()) == 6
    for window in (["--since", "2999-01-01"], ["--until", "2000-01-01"]):
        code, out, _ = run("shelf", "--db", db_url, "log", *window)
        assert code == 0 and out == ""
    code, _, err = run("shelf", "--db", db_url, "log", "--since", "yesterday")
    assert code == 2 and "`since` must be a date YYYY-MM-DD" in err


def test_db_and_site_may_follow_the_action(tmp_path: Path) -> None:
    # found by a new user's trial: `shelf receive FILE --by ana --db URL` was a usage error
    url = f"sqlite:///{tmp_path / 'after.db'}"
    inventory = str(EXAMPLES / "shelf-inventory.csv")
    code, out, _ = run("shelf", "receive", inventory, "--by", "ana", "--db", url, "--site", "S1")
    assert code == 0 and out.startswith("Received 17 vials")
    assert "JV5K21" in run("shelf", "--db", url, "--site", "S1", "list")[1]
    assert "JV5K21" in run("shelf", "list", "--site", "S1", "--db", url)[1]
    assert "empty" in run("shelf", "list", "--db", url)[1]  # another site's stock is not here
