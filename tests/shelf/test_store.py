"""The shelf's ledger on SQLite: stock is the sum of append-only movements, a
dispense never over-draws, recall finds every patient."""

from __future__ import annotations

import datetime as dt
from fractions import Fraction
from pathlib import Path

import pytest
import sqlalchemy as sa

from dosing import InputError
from dosing.errors import NotOnRecord
from dosing.shelf.store import DB_ENV, StockChanged, _migrate, default_url, open_shelf
from optimizer import Lot


def lots() -> list[Lot]:
    return [
        Lot("A1", Fraction(1000), 4, product="Jivi"),
        Lot("B1", Fraction("1062.5"), 2, ndc="00026382125"),  # Kovaltry, by its NDC
    ]


def counts(shelf) -> dict[str, int]:  # type: ignore[no-untyped-def]
    return {lot.lot: lot.count for lot in shelf.stock()}


def test_receive_dispense_and_recall(db_url: str) -> None:
    shelf = open_shelf(db_url)
    assert shelf.receive(lots(), user="rx1") == 6
    assert counts(shelf) == {"A1": 4, "B1": 2}
    assert shelf.stock()[1].amount == Fraction(2125, 2)  # exact, as labeled
    first = shelf.dispense({"A1": 3, "B1": 1}, user="rx1", patient="P1", plan={"vials": 4})
    second = shelf.dispense({"A1": 1}, user="rx2", patient="P2")
    assert counts(shelf) == {"A1": 0, "B1": 1}
    recalled = shelf.recall("A1")
    assert [(r.dispense_id, r.patient, r.vials, r.user) for r in recalled] == [
        (first, "P1", 3, "rx1"),
        (second, "P2", 1, "rx2"),
    ]
    assert shelf.recall("B1")[0].patient == "P1"
    with pytest.raises(NotOnRecord, match="a lot on the shelf"):
        shelf.recall("Z9")  # never received: a mistyped lot, not an empty recall


def test_a_dispense_never_over_draws_and_records_nothing_then(db_url: str) -> None:
    shelf = open_shelf(db_url)
    shelf.receive(lots(), user="rx")
    with pytest.raises(StockChanged, match="lot B1 has 2 vials left, not 3"):
        shelf.dispense({"A1": 1, "B1": 3}, user="rx")
    assert counts(shelf) == {"A1": 4, "B1": 2}  # the A1 vial was not taken either
    assert shelf.recall("A1") == []
    with pytest.raises(InputError, match="a lot on the shelf"):
        shelf.dispense({"Q7": 1}, user="rx")


@pytest.mark.parametrize(
    "statement", ["UPDATE movements SET quantity = 99", "DELETE FROM movements"]
)
def test_movements_are_append_only_in_the_database_itself(db_url: str, statement: str) -> None:
    shelf = open_shelf(db_url)
    shelf.receive(lots(), user="rx")
    with pytest.raises(sa.exc.DBAPIError, match="append-only"), shelf.engine.begin() as db:
        db.execute(sa.text(statement))
    assert counts(shelf) == {"A1": 4, "B1": 2}


def test_the_database_keeps_the_balance_and_refuses_it_below_zero(db_url: str) -> None:
    shelf = open_shelf(db_url)
    shelf.receive(lots(), user="rx")
    insert = (
        "INSERT INTO movements (lot_id, kind, quantity, user, at) "
        "SELECT id, 'adjust', :n, 'dba', CURRENT_TIMESTAMP FROM lots WHERE lot = 'A1'"
    ).replace(" user,", ' "user",')
    with shelf.engine.begin() as db:  # a movement written by hand still counts
        db.execute(sa.text(insert), {"n": -3})
    assert counts(shelf)["A1"] == 1
    with pytest.raises(sa.exc.IntegrityError), shelf.engine.begin() as db:
        db.execute(sa.text(insert), {"n": -2})  # would leave -1: refused, rolled back
    assert counts(shelf)["A1"] == 1


def test_a_ledger_from_before_the_balance_is_brought_up_to_date(db_url: str) -> None:
    engine = sa.create_engine(db_url)
    _migrate(engine, "0002")  # the schema as it was before lots kept on_hand
    with engine.begin() as db:
        db.execute(sa.text("INSERT INTO lots (id, site, lot, amount) VALUES (1, '', 'A1', '500')"))
        for n in (5, -2, 1):
            db.execute(
                sa.text(
                    'INSERT INTO movements (lot_id, kind, quantity, "user", at) '
                    "VALUES (1, 'adjust', :n, 'rx', CURRENT_TIMESTAMP)"
                ),
                {"n": n},
            )
    engine.dispose()
    assert counts(open_shelf(db_url)) == {"A1": 4}


def test_the_ledger_persists_and_migrations_run_once(db_url: str) -> None:
    shelf = open_shelf(db_url)
    shelf.receive(lots(), user="rx")
    shelf.close()
    again = open_shelf(db_url)
    assert counts(again) == {"A1": 4, "B1": 2}
    with again.engine.connect() as db:
        assert db.execute(sa.text("SELECT version_num FROM alembic_version")).scalar() == "0007"
    again.receive([Lot("A1", Fraction(1000), 2, product="Jivi")], user="rx", add=True)  # more
    assert counts(again)["A1"] == 6


def test_a_known_lot_received_with_another_label_is_refused(db_url: str) -> None:
    shelf = open_shelf(db_url)
    shelf.receive(lots(), user="rx")
    with pytest.raises(InputError, match="lot A1"):
        shelf.receive([Lot("A1", Fraction(999), 1, product="Jivi")], user="rx")
    assert counts(shelf)["A1"] == 4


def test_the_default_database_is_named_by_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    named = f"sqlite:///{tmp_path / 'shelf.db'}"
    monkeypatch.setenv(DB_ENV, named)
    assert default_url() == named


def test_waste_return_and_the_log(db_url: str) -> None:
    shelf = open_shelf(db_url)
    shelf.receive(lots(), user="rx")
    shelf.waste("B1", 1, reason="damaged", user="rx")
    with pytest.raises(InputError, match="at most the 1 vial of lot B1 on hand"):
        shelf.waste("B1", 2, reason="expired", user="rx")
    with pytest.raises(InputError, match="why the vials are wasted"):
        shelf.waste("A1", 1, reason=" ", user="rx")
    given = shelf.dispense({"A1": 3}, user="rx", patient="P1")
    assert shelf.return_vials(given, user="rx", lot="A1", count=1) == 1
    assert counts(shelf) == {"A1": 2, "B1": 1}
    with pytest.raises(InputError, match="at most the 2 vials of lot A1 still out"):
        shelf.return_vials(given, user="rx", lot="A1", count=3)
    assert shelf.recall("A1")[0].vials == 2  # one came back unopened
    assert shelf.return_vials(given, user="rx") == 2  # the rest
    assert shelf.recall("A1") == []  # nothing of it reached the patient
    kinds = [(m["kind"], m["lot"], m["quantity"]) for m in shelf.log()]
    assert kinds == [
        ("receive", "A1", 4),
        ("receive", "B1", 2),
        ("waste", "B1", -1),
        ("dispense", "A1", -3),
        ("return", "A1", 1),
        ("return", "A1", 2),
    ]
    assert [m["kind"] for m in shelf.log(patient="P1")] == ["dispense", "return", "return"]
    with pytest.raises(InputError, match="a dispense on record"):
        shelf.return_vials(999, user="rx")


def test_a_voided_dispense_puts_its_vials_back_and_leaves_the_recall(db_url: str) -> None:
    shelf = open_shelf(db_url)
    shelf.receive(lots(), user="rx")
    given = shelf.dispense({"A1": 2, "B1": 1}, user="rx", patient="P1")
    shelf.return_vials(given, user="rx", lot="B1")
    assert shelf.void(given, reason="wrong patient", user="rx2") == 2  # the A1 vials
    assert counts(shelf) == {"A1": 4, "B1": 2}
    assert shelf.recall("A1") == []
    last = shelf.log()[-1]
    assert (last["kind"], last["quantity"], last["reason"]) == ("adjust", 2, "void: wrong patient")
    with pytest.raises(InputError, match="a dispense with vials still out"):
        shelf.void(given, reason="again", user="rx")
    with pytest.raises(InputError, match="why the dispense is voided"):
        shelf.void(given, reason="", user="rx")


def test_dispenses_from_before_0006_are_caught_as_a_second_dispense(db_url: str) -> None:
    """Migration 0006 fills the date of service and drug of older dispenses from
    the JSON they recorded, so a second dispense that day is a stop on an old
    ledger too."""
    engine = sa.create_engine(db_url)
    _migrate(engine, "0005")
    with engine.begin() as db:
        db.execute(sa.text("INSERT INTO lots (id, site, lot, amount, product) "
                           "VALUES (1, '', 'A1', '1000', 'Jivi')"))  # fmt: skip
        db.execute(
            sa.text(
                'INSERT INTO dispenses (id, site, "user", patient, at, order_json, plan_json) '
                "VALUES (1, '', 'rx', 'P-1', CURRENT_TIMESTAMP, :order, :plan)"
            ),
            {
                "order": '{"code": "J7208", "date_of_service": "2026-11-26"}',
                "plan": '{"code": "J7208", "code_set": "spec"}',
            },
        )
        db.execute(
            sa.text(
                'INSERT INTO movements (lot_id, kind, quantity, "user", at) '
                "VALUES (1, 'receive', 4, 'rx', CURRENT_TIMESTAMP)"
            )
        )
        db.execute(
            sa.text(
                'INSERT INTO movements (lot_id, kind, quantity, "user", patient, dispense_id, at) '
                "VALUES (1, 'dispense', -1, 'rx', 'P-1', 1, CURRENT_TIMESTAMP)"
            )
        )
    engine.dispose()
    with open_shelf(db_url) as shelf:
        assert shelf.dispensed_for("P-1", dt.date(2026, 11, 26), "jivi") == [1]
        assert shelf.dispensed_for("P-1", dt.date(2026, 11, 27), "jivi") == []
