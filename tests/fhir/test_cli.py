"""``factordose fhir plan``: the README's example, from an inventory and from the
shelf (dispensed: the MedicationDispenses carry the shelf's dispense id), and
bad Bundles as an OperationOutcome on stdout, one line on stderr, exit 2."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from dosing.cli import main
from dosing.fhir import DISPENSE_SYSTEM
from dosing.shelf import open_shelf
from tests.fhir.bundles import example, resource
from tests.fhir.test_read import KOVALTRY
from tests.fhir.test_write import check, of
from tests.paths import EXAMPLES

BUNDLE = str(EXAMPLES / "fhir-order.json")
INVENTORY = str(EXAMPLES / "fhir-inventory.csv")


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    return main(list(argv), out=out, err=err), out.getvalue(), err.getvalue()


def written(tmp_path: Path, bundle: dict[str, Any]) -> str:
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(bundle))
    return str(path)


def test_the_readme_example_prints_the_response_bundle() -> None:
    code, out, err = run("fhir", "plan", BUNDLE, "--inventory", INVENTORY)
    assert code == 0 and err == ""
    check(json.loads(out), example())


def test_from_the_shelf_a_dispense_is_recorded_and_named(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shelf.db'}"
    with open_shelf(url) as shelf:
        shelf.receive(KOVALTRY, user="receiving")
    code, out, _ = run("fhir", "plan", BUNDLE, "--shelf", "--db", url)
    planned = json.loads(out)
    assert code == 0
    assert all(d["resource"]["status"] == "preparation" for d in of(planned, "MedicationDispense"))
    code, out, _ = run("fhir", "plan", BUNDLE, "--shelf", "--db", url, "--dispense", "--by", "ana")
    done = json.loads(out)
    dispenses = [d["resource"] for d in of(done, "MedicationDispense")]
    assert code == 0 and dispenses
    for dispense in dispenses:
        assert dispense["status"] == "completed"
        assert dispense["identifier"] == [{"system": DISPENSE_SYSTEM, "value": "1"}]
    with open_shelf(url) as shelf:
        left = {lot.lot: lot.count for lot in shelf.stock()}
        recorded = shelf.log(patient="P-1001")
    taken = {d["contained"][0]["batch"]["lotNumber"]: d["quantity"]["value"] for d in dispenses}
    for lot in KOVALTRY:
        assert left[lot.lot] == lot.count - taken.get(lot.lot, 0)
    assert recorded and all(m["user"] == "ana" and m["dispense_id"] == 1 for m in recorded)


def test_a_bad_bundle_is_an_operation_outcome_and_exit_2(tmp_path: Path) -> None:
    bundle = example()
    resource(bundle, "MedicationRequest")["dosageInstruction"][0].pop("doseAndRate")
    code, out, err = run("fhir", "plan", written(tmp_path, bundle), "--inventory", INVENTORY)
    outcome = json.loads(out)
    assert code == 2 and outcome["resourceType"] == "OperationOutcome"
    issue = outcome["issue"][0]
    assert issue["severity"] == "error"
    assert issue["expression"] == ["MedicationRequest.dosageInstruction[0].doseAndRate"]
    assert err == f"factordose: error: {issue['diagnostics']}\n"


def test_a_bundle_missing_its_weight_says_which_observation_it_needs(tmp_path: Path) -> None:
    bundle = example()
    bundle["entry"] = [e for e in bundle["entry"] if e["resource"]["resourceType"] != "Observation"]
    code, out, err = run("fhir", "plan", written(tmp_path, bundle), "--inventory", INVENTORY)
    assert code == 2 and "LOINC 29463-7" in json.loads(out)["issue"][0]["diagnostics"]
    assert err.count("\n") == 1


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ((BUNDLE,), "give --inventory INVENTORY.csv or --shelf"),
        ((BUNDLE, "--inventory", INVENTORY, "--shelf"), "give --inventory INVENTORY.csv or"),
        ((BUNDLE, "--inventory", INVENTORY, "--dispense"), "--dispense needs --shelf"),
        ((BUNDLE, "--inventory", INVENTORY, "--tolerance-pct", "ten"), "--tolerance-pct"),
        (
            (BUNDLE, "--inventory", "/no/such/inventory.csv"),
            "`inventory_file` must be the path of a CSV file",
        ),
        (("/no/such/bundle.json", "--inventory", INVENTORY), "`bundle` must be a readable"),
    ],
)
def test_usage_errors_are_one_line(argv: tuple[str, ...], message: str) -> None:
    code, _, err = run("fhir", "plan", *argv)
    assert code == 2 and message in err and err.count("\n") == 1


def test_not_json_is_refused_as_json(tmp_path: Path) -> None:
    path = tmp_path / "bundle.json"
    path.write_text("{ not json")
    code, out, _ = run("fhir", "plan", str(path), "--inventory", INVENTORY)
    assert code == 2 and json.loads(out)["issue"][0]["diagnostics"].startswith("`bundle` must")


def test_a_second_dispense_from_the_command_line_is_a_stop_until_overridden(
    tmp_path: Path,
) -> None:
    from fhir.resources.R4B.operationoutcome import OperationOutcome

    url = f"sqlite:///{tmp_path / 'shelf.db'}"
    with open_shelf(url) as shelf:
        shelf.receive(KOVALTRY, user="receiving")
    dispense = ("fhir", "plan", BUNDLE, "--shelf", "--db", url, "--dispense", "--by", "ana")
    assert run(*dispense)[0] == 0
    code, out, err = run(*dispense)
    assert code == 1 and "[duplicate-dispense]" in err and '--override "REASON"' in err
    outcome = json.loads(out)
    OperationOutcome.model_validate(outcome)
    assert outcome["issue"][0]["code"] == "business-rule"
    code, out, _ = run(*dispense, "--override", "second infusion: bleed")
    assert code == 0 and of(json.loads(out), "MedicationDispense")
    with open_shelf(url) as shelf:
        assert len({m["dispense_id"] for m in shelf.log(patient="P-1001")}) == 2
