"""``factordose shelf``: receive an inventory CSV, list, export, recall."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from dosing.cli import main
from dosing.shelf.store import open_shelf
from optimizer.inventory import parse_inventory_csv
from tests.paths import EXAMPLES


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    return main(list(argv), out=out, err=err), out.getvalue(), err.getvalue()


def test_receive_list_export_and_recall(db_url: str) -> None:
    code, out, _ = run(
        "shelf",
        "--db",
        db_url,
        "receive",
        str(EXAMPLES / "shelf-inventory.csv"),
        "--by",
        "rx1",
        "--json",
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


# -- bench safety at the command line (docs/design.md "Bench safety") -------------


def test_the_bench_refuses_what_a_pharmacist_would(db_url: str, tmp_path: Path) -> None:
    """The issue's trial, item by item: an expired lot received, the same file
    received twice, a dispense on an old date of service, a second dispense the
    same day, 150 IU/kg: each refused or said, and overridden only with a reason."""
    stale = tmp_path / "stale.csv"
    stale.write_text(
        "ndc,lot,amount,count,expires,product\n,OLD1,1000,4,2026-12-01,Jivi\n,OK1,1000,4,2027-12-31,Jivi\n"
    )
    code, out, err = run("shelf", "--db", db_url, "receive", str(stale), "--by", "rx")
    assert code == 2 and "`lot OLD1: expires`" in err and "expired on 2026-12-01" in err
    assert run("shelf", "--db", db_url, "list")[1] == "The shelf is empty.\n"  # not even OK1
    inventory = str(EXAMPLES / "shelf-inventory.csv")
    assert run("shelf", "--db", db_url, "receive", inventory, "--by", "rx")[0] == 0
    code, _, err = run("shelf", "--db", db_url, "receive", inventory, "--by", "rx")
    assert code == 2 and "received before" in err and "--add" in err
    code, out, _ = run("shelf", "--db", db_url, "receive", inventory, "--by", "rx", "--add")
    assert code == 0 and out == "Received 17 vials in 6 lots.\n"
    order = tmp_path / "order.json"
    order.write_text((EXAMPLES / "shelf-order.json").read_text())  # date of service 2026-11-26
    dispense = ("plan", str(order), "--shelf", "--db", db_url, "--dispense", "--by", "ana")
    code, out, _ = run(*dispense)
    assert code == 0 and "expiry judged on 2026-12-08, the day the vials leave the shelf" in out
    assert "the date of service 2026-11-26 is before today (2026-12-08)" in out
    code, out, err = run(*dispense)  # the same patient, drug and day again
    assert code == 1 and err.count("\n") == 1 and "[duplicate-dispense]" in err
    assert '--override "REASON"' in err and "nothing was dispensed" in err
    assert "STOP" in out and "Dispensed" not in out  # the plan shown, with its stop first
    assert out.index("STOP") < out.index("Pull these vials")
    code, _, err = run(*dispense, "--override", "   ")
    assert code == 2 and "`override`" in err
    code, out, _ = run(*dispense, "--override", "second infusion: knee bleed")
    assert code == 0 and "Override by ana of duplicate-dispense: second infusion: knee bleed" in out
    log = run("shelf", "--db", db_url, "log", "--patient", "P-17")[1]
    assert "[Override by ana of duplicate-dispense: second infusion: knee bleed]" in log
    recall = run("shelf", "--db", db_url, "recall", "JV3D08", "--json")[1]
    overrides = [r["override"] for r in json.loads(recall)]
    assert overrides[0] is None and overrides[-1]["reason"] == "second infusion: knee bleed"
    heavy = tmp_path / "heavy.json"
    heavy.write_text(json.dumps({**json.loads(order.read_text()), "dose_per_kg": 150,
                                 "tolerance_pct": 10, "patient_id": "P-18"}))  # fmt: skip
    code, out, err = run("plan", str(heavy), "--shelf", "--db", db_url, "--dispense", "--by", "ana",
                         "--json")  # fmt: skip
    assert code == 1 and "[over-label-dose]" in err
    shown = json.loads(out)
    assert shown["dispense_ids"] == [] and [s["id"] for s in shown["stops"]] == [
        "over-label-dose", "over-plausible-per-kg"
    ]  # fmt: skip
    code, _, err = run("plan", str(heavy), "--shelf", "--db", db_url, "--override", "x")
    assert code == 2 and "--override" in err and "--dispense" in err


def test_a_site_time_zone_decides_today(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FACTORDOSE_TODAY")
    code, _, err = run("shelf", "--db", db_url, "--tz", "Mars/Olympus", "list")
    assert code == 2 and "`tz` must be an IANA time zone" in err
    assert run("shelf", "--db", db_url, "--tz", "Pacific/Kiritimati", "list")[0] == 0
