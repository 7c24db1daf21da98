"""FHIR R4 in and out: an EHR's MedicationRequest Bundle to an order, and the
plan back as MedicationDispenses, ChargeItems and an OperationOutcome
(docs/design.md "FHIR", with the mapping element by element).

    >>> from dosing import fhir
    >>> answer = fhir.plan_request(bundle, inventory=lots)   # doctest: +SKIP

Resources are validated by ``fhir.resources`` (its R4B models: R4B changed
none of the resources used here, and the library's R4 models are no longer
kept up).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from fractions import Fraction
from typing import Any, TypeVar

from dosing.errors import InputError
from dosing.fhir.bundle import EXTENSION, FhirInputError
from dosing.fhir.read import Reading, read_bundle
from dosing.fhir.write import (
    DISPENSE_SYSTEM,
    error_outcome,
    outcome,
    plan_bundle,
    stopped_outcome,
)
from dosing.pipeline import plan
from optimizer import Lot

__all__ = [
    "DISPENSE_SYSTEM",
    "EXTENSION",
    "FhirInputError",
    "Reading",
    "error_outcome",
    "outcome",
    "plan_bundle",
    "plan_request",
    "planned",
    "read_bundle",
    "stopped_outcome",
]

T = TypeVar("T")


def plan_request(
    data: object,
    *,
    inventory: Sequence[Lot],
    tolerance_pct: Fraction | None = None,
    mode: str | None = None,
    code_set: str | None = None,
    **options: Any,
) -> tuple[dict[str, Any], bool]:
    """The response Bundle for a request Bundle (parsed JSON) planned from
    ``inventory``, and whether the plan is ``ok``.  ``tolerance_pct``, ``mode``
    and ``code_set`` are the site's defaults (:func:`read_bundle`).  A Bundle
    that cannot be planned raises :class:`InputError` (:func:`error_outcome`
    says it in FHIR); ``options`` go to :func:`dosing.plan`."""
    reading = read_bundle(data, tolerance_pct=tolerance_pct, mode=mode, code_set=code_set)
    result = planned(reading, lambda order: plan(order, inventory=inventory, **options))
    answer = result.to_dict()
    return plan_bundle(reading, answer), answer["status"] == "ok"


def planned(reading: Reading, run: Callable[[dict[str, Any]], T]) -> T:
    """``run(order)``, its errors pointed at the Bundle's elements they came from."""
    try:
        return run(reading.order)
    except FhirInputError:
        raise
    except InputError as exc:
        raise Located(exc, reading.sources) from None


class Located(InputError):
    """An order error, with the FHIRPath of the element the field was read from."""

    def __init__(self, error: InputError, sources: Mapping[str, str]) -> None:
        super().__init__(error.field, error.expected, error.got)
        self.sources = dict(sources)
