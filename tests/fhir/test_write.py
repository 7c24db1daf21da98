"""The plan written as FHIR: every resource validates with the library's R4B
models and says what the plan JSON says (lots, counts, claim lines, modifiers,
warnings), linked to the request, the patient and each other."""

from __future__ import annotations

from typing import Any

from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.chargeitem import ChargeItem
from fhir.resources.R4B.medicationdispense import MedicationDispense
from fhir.resources.R4B.operationoutcome import OperationOutcome

from dosing import plan
from dosing.fhir import plan_request, read_bundle
from tests.fhir.bundles import EXT, build, example, resource
from tests.fhir.test_read import KOVALTRY

HCPCS = "http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets"


def of(bundle: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [e for e in bundle["entry"] if e["resource"]["resourceType"] == kind]


def modifiers(charge: dict[str, Any]) -> list[str]:
    return [
        e["valueCoding"]["code"]
        for e in charge.get("extension", [])
        if e["url"] == EXT + "hcpcs-modifier"
    ]


def check(bundle: dict[str, Any], request: dict[str, Any]) -> dict[str, Any]:
    """The response against the plan of the same order: returns that plan."""
    answer, ok = plan_request(request, inventory=KOVALTRY)
    assert answer == bundle
    reading = read_bundle(request)
    planned = plan(reading.order, inventory=KOVALTRY).to_dict()
    assert ok == (planned["status"] == "ok")
    parsed = Bundle.model_validate(bundle)  # every resource, by its own model
    kinds = [type(e.resource) for e in parsed.entry]
    assert kinds == [MedicationDispense] * len(planned["vials"]) + [ChargeItem] * len(
        planned["claim_lines"]
    ) + [OperationOutcome]
    dispenses = of(bundle, "MedicationDispense")
    for entry, vial in zip(dispenses, planned["vials"], strict=True):
        dispense = entry["resource"]
        lot = dispense["contained"][0]
        assert lot["batch"]["lotNumber"] == vial["lot"]
        assert lot["batch"].get("expirationDate") == vial["expires"]
        assert lot["amount"]["numerator"]["value"] == vial["amount"]
        assert dispense["quantity"]["value"] == vial["count"]
        assert dispense["authorizingPrescription"] == [{"reference": reading.request}]
        assert dispense["subject"] == {"reference": reading.patient}
        ndcs = [c["code"] for c in lot["code"].get("coding", [])]
        assert ndcs == ([vial["ndc"]] if vial["ndc"] else [])
    urls = {e["fullUrl"]: e["resource"] for e in dispenses}
    for entry, line in zip(of(bundle, "ChargeItem"), planned["claim_lines"], strict=True):
        charge = entry["resource"]
        assert charge["code"]["coding"] == [{"system": HCPCS, "code": line["code"]}]
        assert charge["quantity"]["value"] == line["units"]
        assert modifiers(charge) == line["modifiers"]
        for served in charge["service"]:
            lot = urls[served["reference"]]["contained"][0]
            assert line["ndc"] is None or lot["code"]["coding"][0]["code"] == line["ndc"]
    outcome = of(bundle, "OperationOutcome")[0]["resource"]
    said = [i["diagnostics"] for i in outcome["issue"] if i["severity"] == "warning"]
    assert said[-len(planned["warnings"]) or len(said) :] == planned["warnings"]
    return planned


def test_the_example_answers_a_dispense_per_lot_and_a_charge_per_line() -> None:
    bundle, ok = plan_request(example(), inventory=KOVALTRY)
    planned = check(bundle, example())
    assert ok and planned["status"] == "ok"
    summary = of(bundle, "OperationOutcome")[0]["resource"]["issue"][0]
    assert summary["severity"] == "information"
    # 159.8 lb = 72.484060726 kg; x 50 IU/kg = 3,624.2 IU; two vials 521 + 3,110
    assert summary["diagnostics"] == (
        "3,624.2 IU ordered, 3,631 IU in 2 vials (+0.19%); J7211: 3,631 units (JZ)"
    )
    assert all(d["resource"]["status"] == "preparation" for d in of(bundle, "MedicationDispense"))


def test_what_is_discarded_is_a_jw_line() -> None:
    request = build(dose=(3000, "[iU]"))
    resource(request, "MedicationRequest")["extension"] = [
        {"url": EXT + "dose-mode", "valueCode": "exact_dose"}
    ]
    bundle, ok = plan_request(request, inventory=KOVALTRY)
    planned = check(bundle, request)
    assert ok and planned["discarded"] > 0
    charges = [e["resource"] for e in of(bundle, "ChargeItem")]
    assert ["JW"] in [modifiers(c) for c in charges]


def test_a_lot_with_an_ndc_puts_it_on_its_claim_line() -> None:
    # 1,040 IU: one vial of KV1C19, the lot whose NDC the inventory gives
    request = build(dose=(1040, "[iU]"))
    bundle, ok = plan_request(request, inventory=KOVALTRY)
    planned = check(bundle, request)
    assert ok and planned["vials"][0]["ndc"] == "00026382125"
    charge = of(bundle, "ChargeItem")[0]["resource"]
    assert charge["productCodeableConcept"]["coding"][0]["code"] == "00026382125"


def test_nothing_that_meets_the_order_is_an_error_issue_and_no_dispense() -> None:
    request = build(dose=(100, "[iU]"))  # whole vials: the smallest holds 262 IU
    resource(request, "MedicationRequest")["extension"] = [
        {"url": EXT + "dose-mode", "valueCode": "whole_vials"}
    ]
    bundle, ok = plan_request(request, inventory=KOVALTRY)
    check(bundle, request)
    assert not ok and not of(bundle, "MedicationDispense") and not of(bundle, "ChargeItem")
    first = of(bundle, "OperationOutcome")[0]["resource"]["issue"][0]
    assert first["severity"] == "error" and first["code"] == "processing"


def test_the_same_request_answers_the_same_bundle() -> None:
    assert plan_request(example(), inventory=KOVALTRY) == plan_request(
        example(), inventory=KOVALTRY
    )


def test_each_charge_bills_its_own_lots_dispenses() -> None:
    # found by a new user's trial: the line without an NDC named every lot's dispense
    import datetime as dt
    from fractions import Fraction

    from optimizer import Lot

    lots = (
        Lot("WITHNDC", Fraction(1040), 1, ndc="00026382125", expires=dt.date(2028, 1, 31),
            product="Kovaltry"),
        Lot("NONDC", Fraction(3110), 1, expires=dt.date(2028, 1, 31), product="Kovaltry"),
    )  # fmt: skip
    bundle, ok = plan_request(build(dose=(4150, "[iU]")), inventory=lots)
    assert ok
    lot_of = {
        e["fullUrl"]: e["resource"]["contained"][0]["batch"]["lotNumber"]
        for e in of(bundle, "MedicationDispense")
    }
    billed = {
        e["resource"].get("productCodeableConcept", {}).get("coding", [{}])[0].get("code"): [
            lot_of[s["reference"]] for s in e["resource"]["service"]
        ]
        for e in of(bundle, "ChargeItem")
    }
    assert billed == {"00026382125": ["WITHNDC"], None: ["NONDC"]}


def test_an_exact_dose_says_what_to_draw_from_the_opened_vial() -> None:
    import datetime as dt
    from fractions import Fraction

    from optimizer import Lot

    lots = (Lot("KV3E14", Fraction(3110), 1, expires=dt.date(2028, 5, 31), product="Kovaltry",
                volume_ml=Fraction(5)),)  # fmt: skip
    request = build(dose=(3000, "[iU]"))
    resource(request, "MedicationRequest")["extension"] = [
        {"url": EXT + "dose-mode", "valueCode": "exact_dose"}
    ]
    bundle, ok = plan_request(request, inventory=lots)
    planned = plan(read_bundle(request).order, inventory=lots).to_dict()
    note = of(bundle, "MedicationDispense")[0]["resource"]["note"][0]["text"]
    draw = planned["draw"]  # 3,000 IU of 3,110 in 5 mL: 4.82 mL, to the 0.1 mL syringe step
    assert (draw["volume_ml"], draw["amount"]) == (4.8, 2985.6)
    assert ok and note == (
        "from one vial of lot KV3E14, give 2,985.6 IU: draw 4.8 mL of its 5 mL; "
        "the rest is discarded (JW)"
    )
    summary = of(bundle, "OperationOutcome")[0]["resource"]["issue"][0]["diagnostics"]
    assert summary.startswith("3,000 IU ordered, 3,110 IU in 1 vial: 2,985.6 IU given, 124.4 IU")
