"""A FHIR R4 Bundle in, an order out (docs/design.md "FHIR").

The Bundle is checked by :mod:`dosing.fhir.bundle` (``fhir.resources``' R4B
models: R4B changed none of the resources read here), then mapped element by
element:

* ``MedicationRequest`` (exactly one; status ``active``, intent an order):
  the dose from ``dosageInstruction[0].doseAndRate[0].doseQuantity`` in UCUM
  (``[iU]`` or ``[iU]/kg``; ``ug``, ``mg`` or per kg for a product billed in
  mcg), the date of service from ``dosageInstruction[0].timing.event[0]``,
  diagnoses from ``reasonCode`` (ICD-10-CM), the site from
  ``dispenseRequest.performer``, tolerance, mode, vial cap and prior
  authorization number from this project's extensions (:data:`EXTENSION`);
* the product from the codes of ``medicationCodeableConcept`` or the
  referenced ``Medication``: an NDC or RxNorm code the catalog lists, or the
  catalog's own id (:data:`PRODUCT`), and a HCPCS code where the product has
  several in the code set;
* ``Patient`` (the request's subject): ``identifier`` (MR first) as the
  patient id, ``birthDate`` as the age on the date of service;
* the body weight ``Observation`` (LOINC 29463-7 or 3141-9, final, amended or
  corrected, of that patient; the latest): kg, g or ``[lb_av]``, converted
  exactly (1 lb = 0.45359237 kg);
* ``Coverage`` (the request's ``insurance``, else the patient's active ones,
  the lowest ``order`` first): the payer profile from this project's
  ``payer-profile`` extension, else Medicare fee-for-service by its Source of
  Payment Typology code (12, 121, 129).

Every error names the element (``MedicationRequest.dosageInstruction[0]
.doseAndRate``) as a FHIRPath; the values given are described, never quoted.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import Any

from fhir.resources.R4B.codeableconcept import CodeableConcept
from fhir.resources.R4B.coverage import Coverage
from fhir.resources.R4B.medication import Medication
from fhir.resources.R4B.medicationdispense import MedicationDispense
from fhir.resources.R4B.medicationrequest import MedicationRequest
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.organization import Organization
from fhir.resources.R4B.patient import Patient
from fhir.resources.R4B.reference import Reference

from dosing.billing import DEFAULT_CODE_SET, SHIPPED_PAYERS, load_payer
from dosing.billing.catalog import Product, load_catalog
from dosing.billing.ndc import normalize_ndc
from dosing.errors import InputError
from dosing.fhir.bundle import (
    EXTENSION,
    EXTENSIONS_AT,
    HCPCS,
    ICD10CM,
    LOINC,
    NDC,
    PRODUCT,
    RXNORM,
    SOPT,
    UCUM,
    FhirInputError,
    Index,
    checked_bundle,
    no_modifier_extensions,
    our_extensions,
)
from optimizer.errors import Described
from optimizer.numbers import as_fraction

__all__ = ["LOINC_WEIGHT", "MEDICARE_FFS", "Reading", "read_bundle"]

#: Body weight (29463-7) and body weight measured (3141-9)
LOINC_WEIGHT = ("29463-7", "3141-9")
#: Medicare fee-for-service (Part B): non-managed care, FFS, other non-managed
MEDICARE_FFS = ("12", "121", "129")
POUND_KG = Fraction(45359237, 10**8)  # exact by definition
#: A weight older than this (days before the date of service) is flagged
WEIGHT_AGE_DAYS = 30

_ORDER_INTENTS = ("order", "original-order", "reflex-order", "filler-order", "instance-order")
_FINAL = ("final", "amended", "corrected")
_UNITS = {
    # UCUM code -> (the product's unit, per kg, factor to it)
    "[iU]": ("IU", False, Fraction(1)),
    "[IU]": ("IU", False, Fraction(1)),
    "[iU]/kg": ("IU", True, Fraction(1)),
    "[IU]/kg": ("IU", True, Fraction(1)),
    "ug": ("mcg", False, Fraction(1)),
    "ug/kg": ("mcg", True, Fraction(1)),
    "mg": ("mcg", False, Fraction(1000)),
    "mg/kg": ("mcg", True, Fraction(1000)),
}
_WEIGHT_UNITS = {"kg": Fraction(1), "g": Fraction(1, 1000), "[lb_av]": POUND_KG}
#: What a weight's human-readable ``unit`` may say for each code
_WEIGHT_WORDS = {
    "kg": {"kg", "kgs", "kilogram", "kilograms"},
    "g": {"g", "gm", "gram", "grams"},
    "[lb_av]": {"lb", "lbs", "[lb_av]", "pound", "pounds"},
}


@dataclass
class Reading:
    """What a Bundle says: the order (the order JSON, naming no inventory), the
    references the response points back at, and where each order field came from."""

    order: dict[str, Any]
    request: str  # a reference to the MedicationRequest
    patient: str  # and to its Patient
    product: Product
    diagnoses: tuple[str, ...] = ()
    #: order field -> the FHIRPath it was read from (for errors the plan raises)
    sources: dict[str, str] = field(default_factory=dict)
    warnings: list[tuple[str, str]] = field(default_factory=list)  # (FHIRPath, message)
    #: the reason a pharmacist overrode the plan's stops (extension override-reason)
    override: str | None = None
    #: the vials a $plan answer showed, sent back with $dispense: [{"lot", "count"}]
    shown: list[dict[str, object]] | None = None


def read_bundle(
    data: object,
    *,
    tolerance_pct: Fraction | None = None,
    mode: str | None = None,
    code_set: str | None = None,
) -> Reading:
    """The order a Bundle holds (see the module docstring).  ``tolerance_pct``,
    ``mode`` and ``code_set`` (a shipped set's name) are the site's defaults,
    used where the request (or its payer) says nothing."""
    bundle = checked_bundle(data)
    entries = [e for e in bundle.entry or [] if e.resource is not None]
    index = Index(entries)
    requests = index.of_type(MedicationRequest)
    if len(requests) != 1:
        raise FhirInputError(
            "Bundle.entry",
            "exactly one MedicationRequest",
            Described(f"{len(requests)}"),
            code="required" if not requests else "invalid",
        )
    request = requests[0]
    where = "MedicationRequest"
    if request.status != "active":
        raise FhirInputError(
            f"{where}.status", "active (an order to fill)", Described("another status")
        )
    if request.intent not in _ORDER_INTENTS:
        raise FhirInputError(
            f"{where}.intent", f"an order ({', '.join(_ORDER_INTENTS)})", Described("another")
        )
    if request.doNotPerform:
        raise FhirInputError(f"{where}.doNotPerform", "absent or false (an order to fill)", True)
    patient, patient_ref = _patient(index, request)
    product, codings, concept = _product(index, request)
    read = [(request, "MedicationRequest"), (patient, "Patient")]
    for kind in (Medication, Observation, Coverage, Organization, MedicationDispense):
        read += [(r, kind.__name__) for r in index.of_type(kind)]
    # walked as sent (the JSON in hand, not the models serialized again)
    sent = data.get("entry") if isinstance(data, Mapping) else None
    raw = {
        id(entry.resource): given.get("resource")
        for entry, given in zip(bundle.entry or [], sent or [], strict=False)
        if isinstance(given, Mapping)
    }
    for resource, name in read:
        no_modifier_extensions(raw.get(id(resource)), name)
        our_extensions(raw.get(id(resource)), name, EXTENSIONS_AT.get(name, frozenset()))
    reading = Reading(
        order={"product": product.id},
        request=index.reference_to(request),
        patient=patient_ref,
        product=product,
    )
    order = reading.order
    reading.sources.update(product=codings, code=codings)
    _dose(request, product, reading)
    service = _date_of_service(request, reading)
    _weight(index, patient_ref, service, reading)
    _patient_fields(patient, service, reading)
    _coverage(index, request, patient_ref, reading)
    _code(concept, product, codings, reading, code_set)
    _request_fields(index, request, reading, tolerance_pct, mode)
    _shown(index, reading)
    if "weight_kg" not in order and "dose_per_kg" in order:
        raise FhirInputError(
            "Bundle.entry",
            "a body weight Observation (LOINC 29463-7) of the patient, final, for a dose per kg",
            "none",
            code="required",
        )
    return reading


def _shown(index: Index, reading: Reading) -> None:
    """The vials a ``$plan`` answer showed, when its MedicationDispenses (status
    preparation, for this request) come back in the Bundle: ``$dispense`` then
    records exactly those or refuses (docs/design.md "Bench safety")."""
    dispenses = index.of_type(MedicationDispense)
    if not dispenses:
        return
    shown: list[dict[str, object]] = []
    for i, dispense in enumerate(dispenses):
        where = f"MedicationDispense[{i}]"
        if dispense.status != "preparation":
            raise FhirInputError(
                f"{where}.status",
                "preparation (a planned dispense, as $plan answered it)",
                Described("another status"),
            )
        asked = [str(r.reference) for r in dispense.authorizingPrescription or []]
        if reading.request not in asked:
            raise FhirInputError(
                f"{where}.authorizingPrescription",
                "a reference to the Bundle's MedicationRequest",
                Described("none" if not asked else "another"),
            )
        reference = dispense.medicationReference
        contained = {f"#{r.id}": r for r in dispense.contained or [] if r.id}
        medication = contained.get(str(reference.reference)) if reference else None
        batch = getattr(medication, "batch", None)
        lot = batch.lotNumber if batch is not None else None
        if not isinstance(medication, Medication) or not lot:
            raise FhirInputError(
                f"{where}.medicationReference",
                "a contained Medication with its batch.lotNumber (the lot)",
                Described("none"),
            )
        quantity = dispense.quantity.value if dispense.quantity else None
        if quantity is None or quantity != int(quantity) or not 1 <= quantity <= 10_000:
            raise FhirInputError(
                f"{where}.quantity", "a whole number of vials from 1 to 10,000", Described("other")
            )
        shown.append({"lot": str(lot), "count": int(quantity)})
    reading.shown = shown
    reading.sources["vials"] = "MedicationDispense"


# --- the Bundle and its references -------------------------------------------------


def _patient(index: Index, request: MedicationRequest) -> tuple[Patient, str]:
    patient = index.resolve(request.subject, Patient, "MedicationRequest.subject")
    return patient, index.reference_to(patient)


def _product(
    index: Index, request: MedicationRequest
) -> tuple[Product, str, CodeableConcept | None]:
    """The catalog product the request's medication codes name, where, and the codes."""
    if request.medicationReference is not None:
        where = "Medication.code"
        medication = request.medicationReference
        if medication.reference and str(medication.reference).startswith("#"):
            contained = [
                r for r in request.contained or [] if f"#{r.id}" == str(medication.reference)
            ]
            if not contained or not isinstance(contained[0], Medication):
                raise FhirInputError(
                    "MedicationRequest.medicationReference",
                    "a reference to a contained Medication",
                    Described("one not contained"),
                    code="not-found",
                )
            concept = contained[0].code
        else:
            concept = index.resolve(
                medication, Medication, "MedicationRequest.medicationReference"
            ).code
    elif request.medicationCodeableConcept is not None:
        where = "MedicationRequest.medicationCodeableConcept"
        concept = request.medicationCodeableConcept
    else:
        raise FhirInputError("MedicationRequest.medication[x]", "a medication", "none")
    catalog = load_catalog()
    found: dict[str, Product] = {}
    for i, coding in enumerate(_codings(concept)):
        system, code = str(coding.system or ""), str(coding.code or "")
        product = None
        if system == NDC:
            try:
                product = catalog.by_ndc(normalize_ndc(code, field=f"{where}.coding[{i}]"))
            except InputError:
                raise FhirInputError(
                    f"{where}.coding[{i}].code", "an NDC (10 digits with hyphens, or 11)",
                    Described("another"),
                ) from None  # fmt: skip
        elif system == RXNORM:
            product = catalog.by_rxcui(code)
        elif system == PRODUCT:
            product = catalog.get(code)
        if product is not None:
            found[product.id] = product
    if len(found) > 1:
        raise FhirInputError(
            where, "codes of one product", Described(f"{len(found)} products"), code="conflict"
        )
    if not found:
        raise FhirInputError(
            where,
            "an NDC, RxNorm or catalog code of a product the catalog lists (factordose catalog)",
            Described("none the catalog knows"),
            code="not-found",
        )
    return next(iter(found.values())), where, concept


def _exact(value: object, where: str) -> Fraction:
    """A FHIR decimal as an exact, bounded Fraction (``1E-999999999`` is FHIR, and
    no amount: refused before any arithmetic sees it)."""
    if value is None:
        raise FhirInputError(where, "a number", "none", code="required")
    return as_fraction(value, where, error=FhirInputError)


def _codings(concept: CodeableConcept | None) -> list[Any]:
    return list(concept.coding or []) if concept is not None else []


def _dose(request: MedicationRequest, product: Product, reading: Reading) -> None:
    where = "MedicationRequest.dosageInstruction"
    dosages = request.dosageInstruction or []
    if len(dosages) != 1:
        raise FhirInputError(
            where, "one dosage instruction (one dose to plan)", Described(f"{len(dosages)}"),
            code="required" if not dosages else "invalid",
        )  # fmt: skip
    rates = dosages[0].doseAndRate or []
    where += "[0].doseAndRate"
    if len(rates) != 1 or rates[0].doseQuantity is None:
        raise FhirInputError(
            where, "one entry with a doseQuantity (not a range)",
            Described("none" if not rates else "another"), code="required",
        )  # fmt: skip
    quantity = rates[0].doseQuantity
    where += "[0].doseQuantity"
    if quantity.system is not None and str(quantity.system) != UCUM:
        raise FhirInputError(f"{where}.system", f"UCUM ({UCUM})", Described("another system"))
    if quantity.comparator is not None:
        raise FhirInputError(f"{where}.comparator", "absent (an exact dose)", Described("given"))
    unit = _UNITS.get(str(quantity.code or ""))
    wanted = "[iU] or [iU]/kg" if product.unit == "IU" else "ug, mg, ug/kg or mg/kg"
    if unit is None or unit[0] != product.unit:
        raise FhirInputError(
            f"{where}.code", f"a UCUM code for {product.name} ({wanted})", Described("another")
        )
    if quantity.value is None:
        raise FhirInputError(f"{where}.value", "a number", "none", code="required")
    _, per_kg, factor = unit
    if quantity.unit is not None:
        said = _plain(str(quantity.unit))
        mass = any(word in said for word in ("mg", "mcg", "ug", "µg", "gram"))
        if said.endswith("/kg") != per_kg or mass == (unit[0] == "IU"):
            raise FhirInputError(
                f"{where}.unit", f"a unit that says what its code ({quantity.code}) says",
                Described("another unit"),
            )  # fmt: skip
    key = "dose_per_kg" if per_kg else "dose"
    reading.order[key] = _exact(quantity.value, f"{where}.value") * factor
    reading.sources[key] = where


def _date_of_service(request: MedicationRequest, reading: Reading) -> dt.date | None:
    dosages = request.dosageInstruction or []
    timing = dosages[0].timing if dosages else None
    events = list(timing.event or []) if timing is not None else []
    if not events:
        return None
    if len(events) > 1 or (timing is not None and timing.repeat is not None):
        reading.warnings.append(
            (
                "MedicationRequest.dosageInstruction[0].timing",
                "one dose planned, for the first event: plan each later one when it comes",
            )
        )
    event = events[0]
    day = event.date() if isinstance(event, dt.datetime) else event
    if not isinstance(day, dt.date):  # a partial date (a year, a month)
        raise FhirInputError(
            "MedicationRequest.dosageInstruction[0].timing.event[0]", "a full date",
            Described("a partial one"),
        )  # fmt: skip
    reading.order["date_of_service"] = day.isoformat()
    reading.sources["date_of_service"] = "MedicationRequest.dosageInstruction[0].timing.event[0]"
    return day


def _weight(index: Index, patient: str, service: dt.date | None, reading: Reading) -> None:
    """The latest final body weight of the patient, exactly in kg."""
    candidates = []
    for observation in index.of_type(Observation):
        codes = {(str(c.system or ""), str(c.code or "")) for c in _codings(observation.code)}
        if not any((LOINC, code) in codes for code in LOINC_WEIGHT):
            continue
        if observation.status not in _FINAL:
            continue
        if observation.subject is None or not _same(index, observation.subject, patient):
            continue
        candidates.append(observation)
    if not candidates:
        return
    dated = [(_effective(o), o) for o in candidates]
    if len(candidates) > 1 and any(when is None for when, _ in dated):
        raise FhirInputError(
            "Observation.effective[x]", "a date on each body weight, to take the latest",
            Described("a weight without one"),
        )  # fmt: skip
    when, observation = max(
        dated, key=lambda pair: pair[0] or dt.datetime.min.replace(tzinfo=dt.UTC)
    )
    tied = [o for w, o in dated if w == when and o is not observation]
    if any(_weight_of(o) != _weight_of(observation) for o in tied):
        raise FhirInputError(
            "Observation.effective[x]", "one latest body weight",
            Described("two different weights at the same time"),
        )  # fmt: skip
    where = "Observation.valueQuantity"
    quantity = observation.valueQuantity
    if quantity is None or quantity.value is None:
        raise FhirInputError(where, "a body weight", "none", code="required")
    if quantity.system is not None and str(quantity.system) != UCUM:
        raise FhirInputError(f"{where}.system", f"UCUM ({UCUM})", Described("another system"))
    code = str(quantity.code or "")
    factor = _WEIGHT_UNITS.get(code)
    if factor is None:
        raise FhirInputError(f"{where}.code", "kg, g or [lb_av]", Described("another unit"))
    if quantity.unit is not None and _plain(str(quantity.unit)) not in _WEIGHT_WORDS[code]:
        raise FhirInputError(
            f"{where}.unit", f"a unit that says what its code ({code}) says",
            Described("another unit"),
        )  # fmt: skip
    reading.order["weight_kg"] = _exact(quantity.value, f"{where}.value") * factor
    reading.sources["weight_kg"] = where
    if when is not None and service is not None and when.date() > service:
        reading.warnings.append(
            ("Observation.effective[x]", "the body weight was measured after the date of service")
        )
    on = service or dt.date.today()
    if when is not None and (on - when.date()).days > WEIGHT_AGE_DAYS:
        reading.warnings.append(
            (
                "Observation.effective[x]",
                f"the body weight is {(on - when.date()).days:,} days old "
                f"(measured {when.date().isoformat()}): confirm it before dosing by weight",
            )
        )


def _plain(unit: str) -> str:
    """A unit as typed, lowercased without spaces: 'Units/kg' -> 'units/kg'."""
    return "".join(unit.lower().split())


def _weight_of(observation: Observation) -> Fraction | None:
    """The weight in kg, exactly, when its unit is one read (for comparing two)."""
    quantity = observation.valueQuantity
    factor = _WEIGHT_UNITS.get(str(quantity.code)) if quantity is not None else None
    if quantity is None or quantity.value is None or factor is None:
        return None
    return _exact(quantity.value, "Observation.valueQuantity.value") * factor


def _same(index: Index, reference: Reference, patient: str) -> bool:
    target = str(reference.reference or "")
    found = index.by_reference.get(target)
    return target == patient or (found is not None and index.reference_to(found) == patient)


def _effective(observation: Observation) -> dt.datetime | None:
    value = observation.effectiveDateTime or observation.effectiveInstant
    if value is None and observation.effectivePeriod is not None:
        value = observation.effectivePeriod.end or observation.effectivePeriod.start
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    if isinstance(value, dt.date):
        return dt.datetime.combine(value, dt.time(), tzinfo=dt.UTC)
    return None


def _patient_fields(patient: Patient, service: dt.date | None, reading: Reading) -> None:
    identifiers = list(patient.identifier or [])
    medical_record = [
        i for i in identifiers if any(c.code == "MR" for c in _codings(i.type)) and i.value
    ]
    usable = medical_record or [i for i in identifiers if i.value]
    chosen = usable[0] if usable else None
    if chosen is not None:
        reading.order["patient_id"] = str(chosen.value)
        reading.sources["patient_id"] = "Patient.identifier"
    elif patient.id:
        reading.order["patient_id"] = str(patient.id)
        reading.sources["patient_id"] = "Patient.id"
    born = patient.birthDate
    if isinstance(born, dt.date) and not isinstance(born, dt.datetime):
        on = service or dt.date.today()
        if born > on:
            raise FhirInputError(
                "Patient.birthDate", "on or before the date of service", Described("after it")
            )
        years = on.year - born.year - ((on.month, on.day) < (born.month, born.day))
        reading.order["age_years"] = years
        reading.sources["age_years"] = "Patient.birthDate"


def _coverage(index: Index, request: MedicationRequest, patient: str, reading: Reading) -> None:
    """The payer profile of the primary coverage, when one says which."""
    if request.insurance:
        coverages = [
            index.resolve(r, Coverage, f"MedicationRequest.insurance[{i}]")
            for i, r in enumerate(request.insurance)
        ]
        for coverage in coverages:
            if coverage.beneficiary is None or not _same(index, coverage.beneficiary, patient):
                raise FhirInputError(
                    "Coverage.beneficiary", "the request's patient", Described("another")
                )
    else:
        coverages = [
            c for c in index.of_type(Coverage)
            if c.beneficiary is not None and _same(index, c.beneficiary, patient)
        ]  # fmt: skip
    given = len(coverages)
    coverages = [c for c in coverages if c.status == "active"]
    if not coverages:
        if given:
            reading.warnings.append(
                ("Coverage.status", "no active coverage: planned with the site's defaults")
            )
        return
    ranked = sorted(coverages, key=lambda c: c.order if c.order is not None else 1)
    first = ranked[0].order if ranked[0].order is not None else 1
    if len(ranked) > 1 and (ranked[1].order if ranked[1].order is not None else 1) == first:
        raise FhirInputError(
            "Coverage.order", "a different order for each active coverage (1 is primary)",
            Described("two coverages ranked alike"),
        )  # fmt: skip
    coverage = ranked[0]
    named = [e for e in coverage.extension or [] if e.url == EXTENSION + "payer-profile"]
    if named:
        name = named[0].valueString
        if name not in SHIPPED_PAYERS:
            raise FhirInputError(
                "Coverage.extension(payer-profile)",
                f"a shipped payer profile ({', '.join(SHIPPED_PAYERS)})",
                Described("another"),
            )
        payer = str(name)
    else:
        sopt = {str(c.code) for c in _codings(coverage.type) if str(c.system) in SOPT}
        if sopt & set(MEDICARE_FFS):
            payer = "medicare"
        else:
            why = (
                "Medicare without saying fee-for-service (121) or Advantage (11x)"
                if "1" in sopt
                else "a payer without a profile here"
            )
            reading.warnings.append(
                ("Coverage.type", f"the coverage names {why}: planned with the site's defaults")
            )
            return
    reading.order["payer"] = payer
    reading.sources["payer"] = "Coverage"


def _code(
    concept: CodeableConcept | None,
    product: Product,
    codings: str,
    reading: Reading,
    site_code_set: str | None,
) -> None:
    """The HCPCS code: the product's own in the payer's code set (else the site's,
    else the default), or, where it has several, the one a HCPCS coding names."""
    payer = reading.order.get("payer")
    code_set = (load_payer(payer).code_set if payer else None) or site_code_set or DEFAULT_CODE_SET
    codes = product.codes.get(code_set, ())
    if not codes:
        elsewhere = "; ".join(f"{n}: {', '.join(c)}" for n, c in product.codes.items() if c)
        raise FhirInputError(
            "Coverage" if payer else "Bundle",
            f"a payer or site code set that bills {product.name} ({elsewhere})",
            Described(f"code set {code_set}, which has no code for it"),
            code="not-supported",
        )
    named = {str(c.code).upper() for c in _codings(concept) if str(c.system) == HCPCS}
    if named:
        chosen = named & set(codes)
        if len(chosen) != 1:
            raise FhirInputError(
                f"{codings}.coding", f"a HCPCS code of {product.name} ({', '.join(codes)})",
                Described("another"),
            )  # fmt: skip
        reading.order["code"] = chosen.pop()
    elif len(codes) == 1:
        reading.order["code"] = codes[0]
    else:
        raise FhirInputError(
            f"{codings}.coding",
            f"a HCPCS coding ({HCPCS}) choosing among {', '.join(codes)} for {product.name}",
            "none",
            code="required",
        )
    if code_set != DEFAULT_CODE_SET:
        reading.order["code_set"] = code_set


def _request_fields(
    index: Index,
    request: MedicationRequest,
    reading: Reading,
    tolerance_pct: Fraction | None,
    mode: str | None,
) -> None:
    order = reading.order
    extensions = {str(e.url): e for e in request.extension or []}  # checked on reading
    for name, key in (("tolerance-pct", "tolerance_pct"), ("max-vials", "max_vials")):
        given = extensions.get(EXTENSION + name)
        if given is not None:
            value = given.valueDecimal if key == "tolerance_pct" else given.valuePositiveInt
            if value is None:
                raise FhirInputError(
                    f"MedicationRequest.extension({name})",
                    "a valueDecimal" if key == "tolerance_pct" else "a valuePositiveInt", "none",
                )  # fmt: skip
            where = f"MedicationRequest.extension({name})"
            order[key] = _exact(value, where) if isinstance(value, Decimal) else int(value)
            reading.sources[key] = f"MedicationRequest.extension({name})"
    under = extensions.get(EXTENSION + "tolerance-under-pct")
    over = extensions.get(EXTENSION + "tolerance-over-pct")
    if under is not None or over is not None:
        if "tolerance_pct" in order or under is None or over is None:
            raise FhirInputError(
                "MedicationRequest.extension(tolerance-under-pct)",
                "with tolerance-over-pct, both, and without tolerance-pct", Described("another"),
            )  # fmt: skip
        order["tolerance"] = {
            "under_pct": _exact(
                under.valueDecimal, "MedicationRequest.extension(tolerance-under-pct)"
            ),
            "over_pct": _exact(
                over.valueDecimal, "MedicationRequest.extension(tolerance-over-pct)"
            ),
        }
        reading.sources["tolerance"] = "MedicationRequest.extension(tolerance-under-pct)"
    if "tolerance_pct" not in order and "tolerance" not in order and tolerance_pct is not None:
        order["tolerance_pct"] = tolerance_pct
    reason = extensions.get(EXTENSION + "override-reason")
    if reason is not None:
        reading.override = reason.valueString
        reading.sources["override"] = "MedicationRequest.extension(override-reason)"
    authorization = extensions.get(EXTENSION + "prior-authorization")
    if authorization is not None:
        order["prior_authorization"] = authorization.valueString
        reading.sources["prior_authorization"] = "MedicationRequest.extension(prior-authorization)"
    chosen = extensions.get(EXTENSION + "dose-mode")
    if chosen is not None:
        order["mode"] = chosen.valueCode
        reading.sources["mode"] = "MedicationRequest.extension(dose-mode)"
    elif mode is not None:
        order["mode"] = mode
    diagnoses = []
    for i, concept in enumerate(request.reasonCode or []):
        for coding in _codings(concept):
            if str(coding.system) == ICD10CM and coding.code:
                diagnoses.append(str(coding.code))
                reading.sources.setdefault("diagnosis_codes", f"MedicationRequest.reasonCode[{i}]")
    if diagnoses:
        order["diagnosis_codes"] = diagnoses
        reading.diagnoses = tuple(diagnoses)
    performer = request.dispenseRequest.performer if request.dispenseRequest else None
    if performer is not None:
        site = performer.identifier.value if performer.identifier is not None else None
        if site is None and performer.reference:
            organization = index.resolve(
                performer, Organization, "MedicationRequest.dispenseRequest.performer"
            )
            site = next((i.value for i in organization.identifier or [] if i.value), None)
            if site is None:
                raise FhirInputError(
                    "MedicationRequest.dispenseRequest.performer",
                    "an Organization with an identifier (the site)", Described("none"),
                )  # fmt: skip
        if site is not None:
            order["site"] = str(site)
            reading.sources["site"] = "MedicationRequest.dispenseRequest.performer"
