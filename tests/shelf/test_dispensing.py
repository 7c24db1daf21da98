"""Planning from the shelf and dispensing: the same plan as from a file, stock
re-read in the dispensing transaction, one re-plan when another dispense got
there first, and exit 1 saying what changed when that loses too."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa

from dosing import InputError, plan, plan_supply
from dosing.cli import main
from dosing.shelf import Shelf, StockChanged, open_shelf, plan_doses, plan_order
from dosing.shelf.clock import site_today
from optimizer import Lot, lots_from_records, read_inventory_csv
from optimizer.inventory import with_count
from tests.paths import EXAMPLES

DAY = "2026-11-26"


def order(**changes: object) -> dict[str, object]:
    """The README's shelf example: its example order, the lots left to the shelf."""
    data = json.loads((EXAMPLES / "shelf-order.json").read_text())
    return {**data, **changes}


def test_the_shelf_example_is_the_example_order_for_a_patient() -> None:
    plain = json.loads((EXAMPLES / "order.json").read_text())
    del plain["inventory_file"]
    assert order() == {**plain, "patient_id": "P-17"}


def stocked(url: str) -> Shelf:
    shelf = open_shelf(url)
    shelf.receive(read_inventory_csv(EXAMPLES / "shelf-inventory.csv"), user="rx")
    return shelf


def counts(shelf: Shelf, site: str = "") -> dict[str, int]:
    return {lot.lot: lot.count for lot in shelf.stock(site)}


def untimed(data: object) -> object:
    """``data`` without the ``seconds`` a solver took (which differ run to run)."""
    if isinstance(data, dict):
        return {k: untimed(v) for k, v in data.items() if k != "seconds"}
    if isinstance(data, list):
        return [untimed(v) for v in data]
    return data


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    return main(list(argv), out=out, err=err), out.getvalue(), err.getvalue()


def test_the_shelf_plans_as_the_inventory_file_does(db_url: str) -> None:
    """The same lots plan the same way; the shelf judges expiry on the day the
    vials leave it (the site's today), as a file plan given that day does."""
    shelf = stocked(db_url)
    today = site_today()
    from_file = plan(
        {**order(), "inventory_file": "shelf-inventory.csv"}, base_dir=EXAMPLES, leaves=today
    )
    from_shelf = plan_order(shelf, order())
    assert from_shelf.plan.to_dict() == from_file.to_dict()
    assert from_file.to_dict()["expiry_as_of"] == today.isoformat()
    assert from_shelf.dispense_ids == () and counts(shelf)["JV3D08"] == 2  # only planned


def test_dispensing_takes_the_plan_off_the_shelf_and_keeps_it(db_url: str) -> None:
    shelf = stocked(db_url)
    before = counts(shelf)
    done = plan_order(shelf, order(), user="ana")
    assert done.plan.ok and len(done.dispense_ids) == 1 and not done.changed
    planned = {v.lot: v.count for v in done.plan.vials}
    assert counts(shelf) == {lot: n - planned.get(lot, 0) for lot, n in before.items()}
    recalled = {lot: shelf.recall(lot) for lot in planned}
    assert all(
        [(r.dispense_id, r.patient, r.vials, r.user) for r in found]
        == [(done.dispense_ids[0], "P-17", planned[lot], "ana")]
        for lot, found in recalled.items()
    )
    with shelf.engine.connect() as db:  # the order, the plan and its claim lines
        row = db.execute(sa.text("SELECT order_json, plan_json FROM dispenses")).one()
    assert json.loads(row.order_json)["weight_kg"] == 72.5
    kept = json.loads(row.plan_json)
    assert kept["claim_lines"] == done.plan.to_dict()["claim_lines"] and kept["claim_lines"]


def test_an_infeasible_plan_is_not_dispensed(db_url: str) -> None:
    shelf = stocked(db_url)
    done = plan_order(shelf, order(max_vials=1), user="ana")
    assert not done.plan.ok and done.dispense_ids == ()
    assert shelf.log(patient="P-17") == []


def test_an_order_with_lots_of_its_own_is_refused(db_url: str) -> None:
    shelf = stocked(db_url)
    with pytest.raises(InputError, match="`inventory_file` must be absent: the lots come"):
        plan_order(shelf, {**order(), "inventory_file": "inventory.csv"})
    with pytest.raises(InputError, match="`site` must be the order's own site"):
        plan_order(shelf, order(site="north"), site="south")


def test_the_order_site_names_the_stock(db_url: str) -> None:
    shelf = stocked(db_url)  # at the default site ""
    shelf.receive([Lot("N1", 3625, 1, product="Jivi")], user="rx", site="north")
    done = plan_order(shelf, order(site="north"), user="ana")
    assert [(v.lot, v.count) for v in done.plan.vials] == [("N1", 1)]
    assert counts(shelf, "north") == {"N1": 0} and counts(shelf)["JV3D08"] == 2


class Racing(Shelf):
    """A shelf on which another pharmacist's dispense lands right after each of
    the first ``races`` reads of the stock: a real second connection, a real
    dispense, at a moment chosen by the test rather than by the scheduler."""

    def __init__(self, url: str, rival: Callable[[Shelf, tuple[Lot, ...]], None], races: int):
        super().__init__(open_shelf(url).engine)
        self.other = open_shelf(url)
        self.rival, self.races = rival, races

    def stock(self, site: str = "") -> tuple[Lot, ...]:
        seen = super().stock(site)
        if self.races:
            self.races -= 1
            self.rival(self.other, seen)
        return seen


def take_all_of(lot: str) -> Callable[[Shelf, tuple[Lot, ...]], None]:
    def rival(other: Shelf, seen: tuple[Lot, ...]) -> None:
        left = next(x.count for x in seen if x.lot == lot)
        other.dispense({lot: left}, user="bo", patient="P-99")

    return rival


def test_a_lost_race_is_planned_again_from_what_is_left(db_url: str) -> None:
    stocked(db_url).close()
    # the first plan takes JV3D08 (2,967 IU); the rival empties that lot first
    shelf = Racing(db_url, take_all_of("JV3D08"), races=1)
    done = plan_order(shelf, order(), user="ana")
    assert done.plan.ok and len(done.dispense_ids) == 1
    assert "lot JV3D08 has 0 vials left, 1 was planned" in done.changed
    assert "JV3D08" not in {v.lot for v in done.plan.vials}
    # what was dispensed is the plan of the shelf as the rival left it
    taken = {v.lot: v.count for v in done.plan.vials}
    left_by_rival = [with_count(x, x.count + taken.get(x.lot, 0)) for x in shelf.other.stock()]
    again = plan(order(), inventory=left_by_rival, leaves=site_today())
    assert done.plan.to_dict() == again.to_dict()
    assert counts(shelf)["JV3D08"] == 0
    assert [r.patient for r in shelf.recall("JV3D08")] == ["P-99"]


def rival_in_turn(*rivals: Callable[[Shelf, tuple[Lot, ...]], None]):  # type: ignore[no-untyped-def]
    turns = iter(rivals)
    return lambda other, seen: next(turns)(other, seen)


def take_everything(other: Shelf, seen: tuple[Lot, ...]) -> None:
    """Every vial that may leave the shelf today (an expired one may not)."""
    usable = [x for x in seen if x.count and (x.expires is None or x.expires >= site_today())]
    other.dispense({x.lot: x.count for x in usable}, user="bo")


def test_losing_twice_records_nothing_and_says_what_changed(db_url: str) -> None:
    stocked(db_url).close()
    shelf = Racing(db_url, rival_in_turn(take_all_of("JV3D08"), take_everything), races=2)
    with pytest.raises(StockChanged) as lost:
        plan_order(shelf, order(), user="ana")
    message = str(lost.value)
    assert message.startswith("another dispense took vials first: lot JV3D08 has 0 vials left")
    assert ", and again while planning from what was left (" in message
    assert message.endswith("nothing was dispensed; plan again")
    assert shelf.log(user="ana") == []


def test_when_what_is_left_cannot_make_the_dose_nothing_is_recorded(db_url: str) -> None:
    stocked(db_url).close()
    shelf = Racing(db_url, take_everything, races=1)
    with pytest.raises(StockChanged, match="what is left cannot make the dose: nothing was"):
        plan_order(shelf, order(), user="ana")
    assert shelf.log(user="ana") == []


def test_a_supply_dispenses_each_dose_for_its_patient_at_once(db_url: str) -> None:
    shelf = open_shelf(db_url)
    request = json.loads((EXAMPLES / "supply.json").read_text())
    shelf.receive(lots_from_records(request.pop("inventory")), user="rx")
    request["doses"] = request["doses"][:2]
    inline = json.loads((EXAMPLES / "supply.json").read_text())["inventory"]
    from_file = plan_supply({**request, "inventory": inline}, leaves=site_today()).to_dict()
    done = plan_doses(shelf, request, user="ana")
    assert untimed(done.plan.to_dict()) == untimed(from_file)
    assert len(done.dispense_ids) == 2
    patients = [m["patient"] for m in shelf.log(user="ana")]
    assert set(patients) == {"P-1001"} and patients


def test_plan_and_supply_from_the_command_line(db_url: str, tmp_path: Path) -> None:
    stocked(db_url).close()
    path = tmp_path / "order.json"
    path.write_text(json.dumps(order()))
    code, out, _ = run("plan", str(path), "--shelf", "--db", db_url, "--json")
    assert code == 0 and json.loads(out)["dispense_ids"] == []
    path.write_text(json.dumps({k: v for k, v in order().items() if k != "patient_id"}))
    code, out, _ = run(
        "plan",
        str(path),
        "--shelf",
        "--db",
        db_url,
        "--dispense",
        "--by",
        "ana",
        "--patient",
        "P-5",
    )
    assert code == 0 and "Dispensed by ana for patient P-5: dispense 1." in out
    shelf = open_shelf(db_url)
    assert {m["patient"] for m in shelf.log(user="ana")} == {"P-5"}
    code, out, _ = run("plan", str(path), "--shelf", "--db", db_url, "--json")
    assert code == 0 and json.loads(out)["vials"] != []  # planned from what is left
    path.write_text(json.dumps(order(max_vials=1)))
    code, out, _ = run("plan", str(path), "--shelf", "--db", db_url, "--dispense", "--by", "ana")
    assert code == 1 and "Dispensed" not in out
    request = json.loads((EXAMPLES / "supply.json").read_text())
    del request["inventory"]
    request["doses"] = request["doses"][:1]
    path.write_text(json.dumps(request))
    code, out, _ = run(
        "supply", str(path), "--shelf", "--db", db_url, "--json", "--dispense", "--by", "bo"
    )
    assert code == 0 and len(json.loads(out)["dispense_ids"]) == 1


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--dispense", "--by", "ana"], "--dispense needs --shelf"),
        (["--shelf", "--dispense"], "--dispense needs --by NAME"),
        (["--shelf", "--by", "ana"], "--by is who dispenses: give it with --dispense"),
        (["--db", "sqlite://"], "--db needs --shelf"),
        (["--shelf", "--batch", "x.jsonl"], "--shelf plans one order at a time"),
    ],
)
def test_shelf_options_that_do_not_go_together_are_exit_2(
    tmp_path: Path, argv: list[str], message: str
) -> None:
    path = tmp_path / "order.json"
    path.write_text(json.dumps(order()))
    positional = [] if "--batch" in argv else [str(path)]
    code, _, err = run("plan", *positional, *argv)
    assert code == 2 and message in err


def test_a_race_lost_twice_is_exit_1_on_the_command_line(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stocked(db_url).close()
    import dosing.cli.shelf as cli_shelf

    def racing(url: str | None) -> Shelf:
        assert url is not None
        return Racing(
            url,
            rival_in_turn(take_all_of("JV3D08"), take_everything),
            races=2,
        )

    monkeypatch.setattr(cli_shelf, "open_shelf", racing)  # another pharmacist, two times
    path = tmp_path / "order.json"
    path.write_text(json.dumps(order()))
    code, out, err = run("plan", str(path), "--shelf", "--db", db_url, "--dispense", "--by", "ana")
    assert code == 1 and out == ""
    assert err.startswith("factordose: another dispense took vials first: lot ")
    assert "nothing was dispensed" in err
