"""Request Bundles as EHRs send them, built from parts a test varies: the weight
(kg or lb, or none), the Medication (NDC-coded, RxNorm-coded, or inline), the
dose (per kg or in IU) and the Coverage (Medicare fee-for-service, a
commercial plan, or none)."""

from __future__ import annotations

import copy
import datetime as dt
import json
from fractions import Fraction
from typing import Any

from optimizer import Lot
from tests.paths import EXAMPLES

EXT = "https://factordose.org/fhir/StructureDefinition/"
PATIENT = "urn:uuid:00000000-0000-4000-8000-000000000003"
MEDICATION = "urn:uuid:00000000-0000-4000-8000-000000000002"
REQUEST = "urn:uuid:00000000-0000-4000-8000-000000000001"
COVERAGE = "urn:uuid:00000000-0000-4000-8000-000000000005"

#: FEIBA's RxCUI as openFDA lists it with NDC 64193-424 (openfda.rxcui)
FEIBA_RXCUI = "1659998"
#: Kovaltry's package NDC (openFDA NDC directory 0026-3821-25)
KOVALTRY_NDC = "0026-3821-25"


def example() -> dict[str, Any]:
    """examples/fhir-order.json: Kovaltry by NDC, 159.8 lb, Medicare FFS."""
    data: dict[str, Any] = json.loads((EXAMPLES / "fhir-order.json").read_text())
    return data


def resource(bundle: dict[str, Any], kind: str) -> dict[str, Any]:
    found: dict[str, Any] = next(
        e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind
    )
    return found


def without(bundle: dict[str, Any], kind: str) -> dict[str, Any]:
    out = copy.deepcopy(bundle)
    out["entry"] = [e for e in out["entry"] if e["resource"]["resourceType"] != kind]
    return out


def build(
    *,
    weight: tuple[Any, str] | None = (72.5, "kg"),
    medication: str = "ndc",
    dose: tuple[Any, str] = (50, "[iU]/kg"),
    coverage: str | None = "medicare",
    day: str = "2026-11-26",
) -> dict[str, Any]:
    """A Bundle like the example with these parts changed."""
    bundle = example()
    request = resource(bundle, "MedicationRequest")
    request["dosageInstruction"][0]["doseAndRate"][0]["doseQuantity"] = {
        "value": dose[0], "unit": dose[1], "system": "http://unitsofmeasure.org", "code": dose[1]
    }  # fmt: skip
    request["dosageInstruction"][0]["timing"] = {"event": [day]}
    if medication == "rxnorm":
        resource(bundle, "Medication")["code"] = {
            "coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm",
                        "code": FEIBA_RXCUI}],
            "text": "FEIBA",
        }  # fmt: skip
    elif medication == "concept":
        bundle = without(bundle, "Medication")
        request = resource(bundle, "MedicationRequest")
        del request["medicationReference"]
        request["medicationCodeableConcept"] = {
            "coding": [{"system": "http://hl7.org/fhir/sid/ndc", "code": KOVALTRY_NDC}]
        }
    if weight is None:
        bundle = without(bundle, "Observation")
    else:
        resource(bundle, "Observation")["valueQuantity"] = {
            "value": weight[0], "unit": weight[1], "system": "http://unitsofmeasure.org",
            "code": weight[1],
        }  # fmt: skip
    if coverage is None:
        bundle = without(bundle, "Coverage")
        del resource(bundle, "MedicationRequest")["insurance"]
    elif coverage == "commercial":
        plan = resource(bundle, "Coverage")
        plan["type"] = {"coding": [{"system": "https://nahdo.org/sopt", "code": "5"}]}
        plan["payor"] = [{"display": "Example Health Plan"}]
        plan["extension"] = [{"url": EXT + "payer-profile", "valueString": "example-commercial"}]
        resource(bundle, "MedicationRequest")["extension"].append(
            {"url": EXT + "prior-authorization", "valueString": "PA-2026-0042"}
        )
    return bundle


def feiba_lots() -> tuple[Lot, ...]:
    """FEIBA on the shelf (labeled amounts as assayed lots print them)."""
    return (
        Lot("FB05A1", Fraction(512), 6, expires=dt.date(2027, 8, 31), product="FEIBA"),
        Lot("FB10B2", Fraction(1046), 4, expires=dt.date(2027, 10, 31), product="FEIBA"),
        Lot("FB25C3", Fraction(2480), 2, expires=dt.date(2028, 1, 31), product="FEIBA"),
    )
