"""``POST /fhir/MedicationRequest/$plan`` and ``$dispense`` on a real shelf: the
CLI's response Bundle, ``application/fhir+json``, and every error an
OperationOutcome (400 for a bad Bundle, 401 without a token, 404, 413)."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from fhir.resources.R4B.operationoutcome import OperationOutcome

from dosing.cli import main
from dosing.shelf import open_shelf
from dosing.web import create_app
from dosing.web.auth import Accounts
from tests.fhir.bundles import example, resource
from tests.fhir.test_read import KOVALTRY
from tests.fhir.test_write import of
from tests.paths import EXAMPLES

FHIR = {"content-type": "application/fhir+json"}
PLAN = "/fhir/MedicationRequest/$plan"
DISPENSE = "/fhir/MedicationRequest/$dispense"


@pytest.fixture
def url(tmp_path: Path) -> str:
    address = f"sqlite:///{tmp_path / 'shelf.db'}"
    with open_shelf(address) as shelf:
        shelf.receive(KOVALTRY, user="receiving")
    return address


@pytest.fixture
def client(url: str) -> Iterator[TestClient]:
    with TestClient(create_app(url), base_url="http://localhost") as test_client:
        yield test_client


def is_outcome(response: object, status: int) -> dict[str, object]:
    assert response.status_code == status  # type: ignore[attr-defined]
    assert response.headers["content-type"] == "application/fhir+json"  # type: ignore[attr-defined]
    body: dict[str, object] = response.json()  # type: ignore[attr-defined]
    assert body["resourceType"] == "OperationOutcome"
    return body


def test_plan_is_the_cli_answer_from_the_same_shelf(client: TestClient, url: str) -> None:
    response = client.post(PLAN, content=(EXAMPLES / "fhir-order.json").read_bytes(), headers=FHIR)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/fhir+json"
    out = io.StringIO()
    fhir_plan = ["fhir", "plan", str(EXAMPLES / "fhir-order.json"), "--shelf", "--db", url]
    assert main(fhir_plan, out=out, err=io.StringIO()) == 0
    assert response.json() == json.loads(out.getvalue())


def test_dispense_records_once_under_its_key(client: TestClient, url: str) -> None:
    headers = {**FHIR, "idempotency-key": "order-mr-1001"}
    first = client.post(DISPENSE, json=example(), headers=headers)
    again = client.post(DISPENSE, json=example(), headers=headers)
    assert first.status_code == again.status_code == 200
    assert first.json() == again.json()  # the recorded dispense, not a second one
    dispenses = [d["resource"] for d in of(first.json(), "MedicationDispense")]
    assert {d["identifier"][0]["value"] for d in dispenses} == {"1"}
    with open_shelf(url) as shelf:
        assert {m["dispense_id"] for m in shelf.log(patient="P-1001")} == {1}


def test_a_key_used_for_another_bundle_is_refused(client: TestClient, url: str) -> None:
    # found by a new user's trial: the key's dispense came back under the new patient
    headers = {**FHIR, "idempotency-key": "k-001"}
    assert client.post(DISPENSE, json=example(), headers=headers).status_code == 200
    other = example()
    resource(other, "Patient")["identifier"][0]["value"] = "P-2002"
    issue = is_outcome(client.post(DISPENSE, json=other, headers=headers), 400)["issue"][0]
    assert "Idempotency-Key" in issue["diagnostics"]  # type: ignore[index, operator]
    with open_shelf(url) as shelf:
        assert not shelf.log(patient="P-2002")
    order = {"code": "J7211", "dose": 1040, "product": "Kovaltry", "patient_id": "P-3003"}
    api = client.post(
        "/api/shelf/dispense", json={"order": order}, headers={"idempotency-key": "k-001"}
    )
    assert api.status_code == 422 and api.json()["error"]["field"] == "Idempotency-Key"


@pytest.mark.parametrize(
    ("body", "headers", "element"),
    [
        (b"{ not json", FHIR, None),
        (json.dumps({"resourceType": "Patient"}).encode(), FHIR, "Bundle"),
        (json.dumps(example()).encode(), {"content-type": "text/plain"}, None),
    ],
)
def test_bad_bundles_are_400_operation_outcomes(
    client: TestClient, body: bytes, headers: dict[str, str], element: str | None
) -> None:
    issue = is_outcome(client.post(PLAN, content=body, headers=headers), 400)["issue"][0]
    assert issue["severity"] == "error"  # type: ignore[index]
    if element:
        assert issue["expression"] == [element]  # type: ignore[index]


def test_a_missing_weight_names_what_is_missing(client: TestClient) -> None:
    bundle = example()
    bundle["entry"] = [e for e in bundle["entry"] if e["resource"]["resourceType"] != "Observation"]
    issue = is_outcome(client.post(PLAN, json=bundle, headers=FHIR), 400)["issue"][0]
    assert issue["code"] == "required" and "29463-7" in issue["diagnostics"]  # type: ignore[index, operator]


def test_not_enough_on_the_shelf_is_a_bundle_with_an_error_issue(client: TestClient) -> None:
    bundle = example()
    dose = resource(bundle, "MedicationRequest")["dosageInstruction"][0]["doseAndRate"][0]
    dose["doseQuantity"]["value"] = 400  # 29,000 IU: more than the shelf holds
    answer = client.post(PLAN, json=bundle, headers=FHIR)
    assert answer.status_code == 200
    issue = of(answer.json(), "OperationOutcome")[0]["resource"]["issue"][0]
    assert issue["severity"] == "error" and issue["code"] == "processing"


def test_other_errors_are_operation_outcomes_too(url: str) -> None:
    Accounts(open_shelf(url).engine).add("ana", "a long enough password")
    with TestClient(create_app(url, max_body=10_000), base_url="http://localhost") as client:
        unknown = is_outcome(client.post(PLAN, json=example(), headers=FHIR), 401)
        assert unknown["issue"][0]["code"] == "login"  # type: ignore[index]
        assert is_outcome(client.get("/fhir/Patient/1"), 404)["issue"]
        big = b"{" + b" " * 20_000 + b"}"
        assert is_outcome(client.post(PLAN, content=big, headers=FHIR), 413)["issue"]


# -- bench safety: stops, their override, and the vials $plan showed ------------


def _with_override(bundle: dict[str, object], reason: str) -> dict[str, object]:
    request = resource(bundle, "MedicationRequest")  # type: ignore[arg-type]
    request.setdefault("extension", []).append(
        {"url": "https://factordose.org/fhir/StructureDefinition/override-reason",
         "valueString": reason}
    )  # fmt: skip
    return bundle


def test_a_second_dispense_the_same_day_is_a_409_stop_until_overridden(
    client: TestClient, url: str
) -> None:
    assert client.post(DISPENSE, json=example(), headers=FHIR).status_code == 200
    again = is_outcome(client.post(DISPENSE, json=example(), headers=FHIR), 409)
    OperationOutcome.model_validate(again)  # a valid R4 OperationOutcome
    first = again["issue"][0]  # type: ignore[index]
    assert first["code"] == "business-rule" and "[duplicate-dispense]" in first["diagnostics"]
    assert "override-reason" in again["issue"][-1]["diagnostics"]  # type: ignore[index]
    planned = client.post(PLAN, json=example(), headers=FHIR).json()  # $plan shows the stop
    issues = of(planned, "OperationOutcome")[0]["resource"]["issue"]
    assert any(i["code"] == "business-rule" and "duplicate-dispense" in i["diagnostics"]
               for i in issues)  # fmt: skip
    done = client.post(
        DISPENSE, json=_with_override(example(), "second infusion: bleed, Dr Kim"), headers=FHIR
    )
    assert done.status_code == 200
    with open_shelf(url) as shelf:
        ids = sorted({m["dispense_id"] for m in shelf.log(patient="P-1001")})
        assert len(ids) == 2
        overridden = [r for r in shelf.recall(shelf.log(patient="P-1001")[0]["lot"]) if r.override]
        assert overridden and overridden[0].override.reason == "second infusion: bleed, Dr Kim"  # type: ignore[union-attr]


def test_dispense_records_the_vials_plan_showed_or_409_when_they_changed(
    client: TestClient, url: str
) -> None:
    planned = client.post(PLAN, json=example(), headers=FHIR).json()
    shown = [e for e in planned["entry"] if e["resource"]["resourceType"] == "MedicationDispense"]
    bundle = example()
    bundle["entry"] += shown  # the $plan answer's dispenses, sent back
    with open_shelf(url) as shelf:
        lot = shown[0]["resource"]["contained"][0]["batch"]["lotNumber"]
        on_hand = next(x.count for x in shelf.stock() if x.lot == lot)
        shelf.waste(lot, on_hand, reason="dropped", user="bo")  # the shown lot is gone
    changed = is_outcome(client.post(DISPENSE, json=bundle, headers=FHIR), 409)
    assert f"lot {lot} has 0 vials left" in changed["issue"][0]["diagnostics"]  # type: ignore[index, operator]
    with open_shelf(url) as shelf:
        assert not shelf.log(patient="P-1001")  # nothing recorded
    fresh = client.post(PLAN, json=example(), headers=FHIR).json()
    again = example()
    again["entry"] += [
        e for e in fresh["entry"] if e["resource"]["resourceType"] == "MedicationDispense"
    ]
    done = client.post(DISPENSE, json=again, headers=FHIR)
    assert done.status_code == 200
    recorded = {
        d["resource"]["contained"][0]["batch"]["lotNumber"]: d["resource"]["quantity"]["value"]
        for d in of(done.json(), "MedicationDispense")
    }
    wanted = {
        d["resource"]["contained"][0]["batch"]["lotNumber"]: d["resource"]["quantity"]["value"]
        for d in of(fresh, "MedicationDispense")
    }
    assert recorded == wanted


def test_a_shown_dispense_of_another_request_or_status_is_refused(client: TestClient) -> None:
    planned = client.post(PLAN, json=example(), headers=FHIR).json()
    shown = of(planned, "MedicationDispense")[0]
    bundle = example()
    shown["resource"]["status"] = "completed"
    bundle["entry"].append(shown)
    issue = is_outcome(client.post(DISPENSE, json=bundle, headers=FHIR), 400)["issue"][0]
    assert issue["expression"] == ["MedicationDispense[0].status"]  # type: ignore[index]


def test_a_patient_identifier_past_the_ledgers_64_characters_is_refused_by_plan_too(
    client: TestClient,
) -> None:
    bundle = example()
    resource(bundle, "Patient")["identifier"][0]["value"] = "P" * 5_000
    issue = is_outcome(client.post(PLAN, json=bundle, headers=FHIR), 400)["issue"][0]
    assert issue["expression"] == ["Patient.identifier"]  # type: ignore[index]
    assert "at most 64 characters" in issue["diagnostics"]  # type: ignore[index, operator]
