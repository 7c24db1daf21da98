"""FHIR R4 over HTTP: ``POST /fhir/MedicationRequest/$plan`` (a Bundle in, the
response Bundle out, planned from the shelf) and ``$dispense`` (the same,
recorded as dispensed by the caller).  Bodies are ``application/fhir+json``
(or ``application/json``), answers ``application/fhir+json``; a Bundle that
cannot be planned is a 400 with an OperationOutcome naming the element, and
every other error (401, 403, 404, 409, 413) an OperationOutcome too.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from dosing.errors import InputError
from dosing.fhir import error_outcome, plan_bundle, planned, read_bundle, stopped_outcome
from dosing.shelf.clock import site_today
from dosing.shelf.dispensing import AlreadyDispensed, plan_order
from dosing.stops import Stopped
from dosing.web.access import api_user, json_body, shelf_of

__all__ = ["FHIR_JSON", "FHIR_PREFIX", "router"]

FHIR_PREFIX = "/fhir"
FHIR_JSON = "application/fhir+json"


class FhirText(Response):
    media_type = FHIR_JSON

    def render(self, content: Any) -> bytes:
        return json.dumps(content).encode()


router = APIRouter(prefix=FHIR_PREFIX, tags=["fhir"], default_response_class=FhirText)
User = Annotated[str, Depends(api_user)]
_BODY = {
    "requestBody": {
        "required": True,
        "description": "a FHIR R4 Bundle: a MedicationRequest, its Patient, the body weight "
        'Observation, optionally its Medication and Coverage (docs/design.md "FHIR")',
        "content": {FHIR_JSON: {"schema": {"type": "object"}}},
    }
}


@router.post(
    "/MedicationRequest/$plan",
    summary="Plan a MedicationRequest Bundle from the shelf",
    description="The response Bundle: a MedicationDispense (status preparation) per lot, a "
    "ChargeItem per claim line, an OperationOutcome with the warnings. Nothing is recorded.",
    openapi_extra=_BODY,
)
async def fhir_plan(request: Request, user: User) -> FhirText:
    return await _answer(request, None, None)


@router.post(
    "/MedicationRequest/$dispense",
    summary="Plan a MedicationRequest Bundle from the shelf and dispense it",
    description="As $plan, and when the plan is ok recorded as dispensed by the caller: "
    "the MedicationDispenses are completed and carry the shelf's dispense id. An "
    "`Idempotency-Key` header makes a retry answer the recorded dispense.",
    openapi_extra=_BODY,
)
async def fhir_dispense(request: Request, user: User) -> FhirText:
    return await _answer(request, user, request.headers.get("idempotency-key") or None)


async def _answer(request: Request, user: str | None, key: str | None) -> FhirText:
    try:
        data = await json_body(request, "bundle", (FHIR_JSON, "application/json"))
        reading = read_bundle(data)
        done = await run_in_threadpool(
            planned,
            reading,
            lambda order: plan_order(
                shelf_of(request),
                order,
                user=user,
                key=key,
                override=reading.override if user else None,
                vials=reading.shown if user else None,
                today=site_today(),
            ),
        )
    except AlreadyDispensed as seen:  # a retry of a recorded dispense
        return FhirText(plan_bundle(reading, seen.plan, dispense_ids=[seen.dispense_id]))
    except Stopped as stopped:  # nothing recorded: each stop an issue, then how to override
        return FhirText(stopped_outcome(stopped), status_code=409)
    except InputError as exc:
        return FhirText(error_outcome(exc), status_code=400)
    return FhirText(plan_bundle(reading, done.plan.to_dict(), dispense_ids=done.dispense_ids))
