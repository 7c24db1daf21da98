"""A plan out as FHIR R4 (docs/design.md "FHIR"): a Bundle (type collection)
of one ``MedicationDispense`` per lot, one ``ChargeItem`` per claim line and an
``OperationOutcome`` with the plan's warnings; an ``OperationOutcome`` alone
for a Bundle that cannot be planned.

Each resource is built as FHIR JSON and validated by ``fhir.resources``' R4B
model before it is written.  Ids are UUIDs derived from the request and the
lot or line (the same answer twice is the same Bundle).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.operationoutcome import OperationOutcome

from dosing.errors import InputError
from dosing.fhir.bundle import EXTENSION, HCPCS, ICD10CM, NDC, UCUM, FhirInputError
from dosing.fhir.read import Reading
from dosing.stops import Stopped

__all__ = ["DISPENSE_SYSTEM", "error_outcome", "outcome", "plan_bundle", "stopped_outcome"]

#: The identifier system of the shelf's dispense ids.
DISPENSE_SYSTEM = "https://factordose.org/fhir/sid/dispense"
_NAMESPACE = uuid.UUID("6f1c3a52-2f4e-4d8e-9b8e-3f5d2b7c9a10")


def plan_bundle(
    reading: Reading,
    plan: Mapping[str, Any],
    *,
    dispense_ids: Sequence[int] = (),
) -> dict[str, Any]:
    """The response Bundle of ``plan`` (the plan JSON) for the request ``reading``
    read; ``dispense_ids`` when the shelf recorded it (the dispenses are then
    ``completed`` and carry the id)."""
    seed = f"{reading.request}|{','.join(map(str, dispense_ids))}"
    entries: list[dict[str, Any]] = []
    dispenses: dict[str, list[str]] = {}  # NDC ('' if none) -> the dispenses' urls
    draw = plan.get("draw") or {}
    for vial in plan.get("vials", []):
        url = _url(seed, "dispense", vial["lot"])
        dispense = _dispense(reading, vial, dispense_ids)
        if draw.get("lot") == vial["lot"]:  # an exact dose: part of one vial is given
            dispense["note"] = [{"text": _draw_text(reading, draw, plan)}]
        entries.append({"fullUrl": url, "resource": dispense})
        dispenses.setdefault(vial.get("ndc") or "", []).append(url)
    for number, line in enumerate(plan.get("claim_lines", []), start=1):
        served = _served(line, dispenses)
        entries.append(
            {
                "fullUrl": _url(seed, "charge", str(number)),
                "resource": _charge(reading, plan, line, served),
            }
        )
    entries.append({"fullUrl": _url(seed, "outcome", ""), "resource": _plan_outcome(reading, plan)})
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": entries}
    return _valid(Bundle, bundle)


def error_outcome(error: InputError) -> dict[str, Any]:
    """The OperationOutcome of an error: each issue with the element's FHIRPath
    (an order field's source, for an error the plan raised on what a Bundle
    said: :class:`dosing.fhir.Located`) and the CLI's own message."""
    if isinstance(error, FhirInputError):
        issues = [
            {
                "severity": "error",
                "code": error.code,  # a FHIR issue type
                "diagnostics": message,
                "expression": [path],
            }
            for path, message in error.issues
        ]
    else:
        known: Mapping[str, str] = getattr(error, "sources", {})
        root = error.field.split(".")[0].split("[")[0]
        where = known.get(error.field) or known.get(root)
        issue: dict[str, Any] = {"severity": "error", "code": "invalid", "diagnostics": str(error)}
        if where:
            issue["expression"] = [where]
        issues = [issue]
    return _valid(OperationOutcome, {"resourceType": "OperationOutcome", "issue": issues})


#: FHIR's issue type for an HTTP error status
_STATUS_CODE = {
    400: "invalid",
    401: "login",
    403: "forbidden",
    404: "not-found",
    405: "not-supported",
    409: "conflict",
    413: "too-long",
    415: "not-supported",
    422: "invalid",
}


def outcome(message: str, status: int) -> dict[str, Any]:
    """An OperationOutcome of one error, for an HTTP ``status``."""
    issue: dict[str, Any] = {
        "severity": "error" if status < 500 else "fatal",
        "code": _STATUS_CODE.get(status, "exception"),
        "diagnostics": message,
    }
    return _valid(OperationOutcome, {"resourceType": "OperationOutcome", "issue": [issue]})


# --- the resources --------------------------------------------------------------------


def _dispense(
    reading: Reading, vial: Mapping[str, Any], dispense_ids: Sequence[int]
) -> dict[str, Any]:
    medication: dict[str, Any] = {
        "resourceType": "Medication",
        "id": "lot",
        "code": {"text": reading.product.name},
        "amount": {
            "numerator": _quantity(vial["amount"], reading.product.unit),
            "denominator": {"value": 1, "unit": "vial", "system": UCUM, "code": "{vial}"},
        },
        "batch": {"lotNumber": vial["lot"]},
    }
    if vial.get("ndc"):
        medication["code"]["coding"] = [{"system": NDC, "code": vial["ndc"]}]
    if vial.get("expires"):
        medication["batch"]["expirationDate"] = vial["expires"]
    resource: dict[str, Any] = {
        "resourceType": "MedicationDispense",
        "contained": [medication],
        "status": "completed" if dispense_ids else "preparation",
        "medicationReference": {"reference": "#lot"},
        "subject": {"reference": reading.patient},
        "authorizingPrescription": [{"reference": reading.request}],
        "quantity": {"value": vial["count"], "unit": "vial", "system": UCUM, "code": "{vial}"},
    }
    if dispense_ids:
        resource["identifier"] = [
            {"system": DISPENSE_SYSTEM, "value": str(i)} for i in dispense_ids
        ]
    return resource


def _charge(
    reading: Reading, plan: Mapping[str, Any], line: Mapping[str, Any], served: list[str]
) -> dict[str, Any]:
    extensions: list[dict[str, Any]] = [
        {"url": EXTENSION + "hcpcs-modifier", "valueCoding": {"system": HCPCS, "code": m}}
        for m in line.get("modifiers", [])
    ]
    if line.get("ndc_quantity") is not None:
        extensions.append(
            {
                "url": EXTENSION + "ndc-quantity",
                "valueQuantity": {
                    "value": _decimal(line["ndc_quantity"]),
                    "unit": line.get("ndc_unit") or "",
                },
            }
        )
    resource: dict[str, Any] = {
        "resourceType": "ChargeItem",
        "status": "billable",
        "code": {"coding": [{"system": HCPCS, "code": line["code"]}]},
        "subject": {"reference": reading.patient},
        "quantity": {"value": line["units"]},
    }
    if extensions:
        resource["extension"] = extensions
    service = reading.order.get("date_of_service")
    if service:
        resource["occurrenceDateTime"] = service
    if line.get("ndc"):
        resource["productCodeableConcept"] = {"coding": [{"system": NDC, "code": line["ndc"]}]}
    if served:
        resource["service"] = [{"reference": url} for url in served]
    if reading.diagnoses:
        resource["reason"] = [
            {"coding": [{"system": ICD10CM, "code": code}]} for code in reading.diagnoses
        ]
    if line.get("narrative"):
        resource["note"] = [{"text": line["narrative"]}]
    return resource


def _plan_outcome(reading: Reading, plan: Mapping[str, Any]) -> dict[str, Any]:
    issues: list[dict[str, Any]] = []
    if plan.get("status") != "ok":
        issues.append(
            {
                "severity": "error",
                "code": "processing",
                "diagnostics": str(plan.get("reason") or "no selection of vials meets the order"),
            }
        )
    issues += [  # the stops first: a dispense needs their override (extension override-reason)
        {
            "severity": "warning",
            "code": "business-rule",
            "diagnostics": f"stop: {stop['message']} [{stop['id']}]",
        }
        for stop in plan.get("stops", [])
    ]
    issues += [
        {
            "severity": "warning",
            "code": "informational",
            "diagnostics": message,
            "expression": [path],
        }
        for path, message in reading.warnings
    ]
    issues += [
        {"severity": "warning", "code": "informational", "diagnostics": message}
        for message in plan.get("warnings", [])
    ]
    if plan.get("status") == "ok":
        issues.insert(0, {"severity": "information", "code": "informational",
                          "diagnostics": _summary(reading, plan)})  # fmt: skip
    return {"resourceType": "OperationOutcome", "issue": issues}


def _summary(reading: Reading, plan: Mapping[str, Any]) -> str:
    """'3,624.2 IU ordered, 3,631 IU in 2 vials (+0.19%); J7211: 3,631 units (JZ)'."""
    unit = reading.product.unit
    vials = sum(v["count"] for v in plan.get("vials", []))
    lines = "; ".join(
        f"{line['code']}: {line['units']:,} units" + (
            f" ({' '.join(line['modifiers'])})" if line.get("modifiers") else ""
        )
        for line in plan.get("claim_lines", [])
    )  # fmt: skip
    ordered, dispensed = _amount(plan["ordered"]), _amount(plan["dispensed"])
    given = ""
    if plan.get("discarded"):
        given = (
            f": {_amount(plan['administered'])} {unit} given, "
            f"{_amount(plan['discarded'])} {unit} discarded"
        )
    return (
        f"{ordered} {unit} ordered, {dispensed} {unit} in {vials} "
        f"vial{'s' if vials != 1 else ''}{given} ({plan['deviation_pct']:+.2f}%); {lines}"
    )


def _served(line: Mapping[str, Any], dispenses: Mapping[str, list[str]]) -> list[str]:
    """The dispenses a claim line bills: those of its NDC (none: those without
    one), and of the other NDCs its narrative names (a payer's one-line form)."""
    ndcs = {line.get("ndc") or ""} | set(re.findall(r"\b\d{11}\b", line.get("narrative") or ""))
    return [url for ndc, urls in dispenses.items() if ndc in ndcs for url in urls]


# --- helpers --------------------------------------------------------------------------


def _draw_text(reading: Reading, draw: Mapping[str, Any], plan: Mapping[str, Any]) -> str:
    """What to draw from the opened vial, as the worksheet says it."""
    unit = reading.product.unit
    text = f"from one vial of lot {draw['lot']}, give {_amount(draw['amount'])} {unit}"
    if draw.get("volume_ml") is not None:
        text += f": draw {draw['volume_ml']} mL of its {draw.get('vial_ml')} mL"
    if plan.get("discarded"):
        return text + "; the rest is discarded (JW)"
    return text + " (the whole vial: nothing is discarded)"


def _amount(value: float) -> str:
    """3624.19 as '3,624.19', 3631.0 as '3,631'."""
    return f"{value:,.2f}".rstrip("0").rstrip(".")


def _quantity(amount: object, unit: str) -> dict[str, Any]:
    code = "[iU]" if unit == "IU" else "ug"
    return {"value": _decimal(amount), "unit": unit, "system": UCUM, "code": code}


def _decimal(value: object) -> Decimal | int:
    """A plan JSON number as a FHIR decimal: 3532.0 stays 3532.0, 565 stays 565."""
    if isinstance(value, int):
        return value
    return Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value))


def _url(seed: str, kind: str, key: str) -> str:
    return f"urn:uuid:{uuid.uuid5(_NAMESPACE, f'{seed}|{kind}|{key}')}"


def _valid(model: Any, resource: dict[str, Any]) -> dict[str, Any]:
    """``resource`` after its model validated it (an error here is a bug: it raises)."""
    validated = model.model_validate(resource)
    return dict(validated.model_dump(mode="json", by_alias=True, exclude_none=True))


def stopped_outcome(stopped: Stopped) -> dict[str, Any]:
    """The OperationOutcome of a dispense refused by its stops (issue type
    business-rule), naming the extension that overrides them."""
    issues = [
        {"severity": "error", "code": "business-rule", "diagnostics": f"{s.message} [{s.id}]"}
        for s in stopped.stops
    ]
    issues.append(
        {
            "severity": "information",
            "code": "business-rule",
            "diagnostics": "nothing was dispensed; a pharmacist who has checked may dispense "
            "with the MedicationRequest extension override-reason (valueString: why)",
        }
    )
    return _valid(OperationOutcome, {"resourceType": "OperationOutcome", "issue": issues})
