"""A FHIR Bundle read into an order: the same plan as the order JSON written by
hand, for weights in kg and lb, Medications coded by NDC, RxNorm and the
catalog, Medicare and commercial coverage; and every refusal naming the
element."""

from __future__ import annotations

import copy
import re
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dosing import plan
from dosing.fhir import FhirInputError, plan_request, read_bundle
from optimizer import read_inventory_csv
from tests.fhir.bundles import EXT, PATIENT, build, example, feiba_lots, resource, without
from tests.paths import EXAMPLES

KOVALTRY = read_inventory_csv(EXAMPLES / "fhir-inventory.csv")
#: 1 lb = 0.45359237 kg exactly (the international pound, 1959)
POUND = Decimal("0.45359237")

#: examples/fhir-order.json as the order JSON a person would write for it
EXAMPLE_ORDER: dict[str, Any] = {
    "code": "J7211",  # Kovaltry's own code in Medicare's (CMS) set
    "product": "Kovaltry",
    "weight_kg": Decimal("72.484060726"),  # 159.8 lb x 0.45359237
    "dose_per_kg": 50,
    "tolerance_pct": 10,
    "payer": "medicare",
    "code_set": "cms",  # Medicare reads codes by the CMS HCPCS file
    "date_of_service": "2026-11-26",
    "patient_id": "P-1001",
    "age_years": 34,  # born 1992-04-17
    "diagnosis_codes": ["D66"],
}


def same_plan(bundle: dict[str, Any], order: dict[str, Any], lots: Any = KOVALTRY) -> None:
    reading = read_bundle(bundle)
    planned = plan(reading.order, inventory=lots).to_dict()
    assert planned["status"] == "ok" and planned == plan(order, inventory=lots).to_dict()


def test_the_example_reads_as_the_order_a_person_would_write() -> None:
    reading = read_bundle(example())
    assert reading.order == {
        **EXAMPLE_ORDER,
        "product": "kovaltry",
        "weight_kg": Fraction("72.484060726"),
    }
    assert reading.request == "urn:uuid:7b0f3f0e-5d2a-4c59-9d57-1b1b0c0e2a01"
    assert reading.patient == "urn:uuid:7b0f3f0e-5d2a-4c59-9d57-1b1b0c0e2a03"
    same_plan(example(), EXAMPLE_ORDER)


BASE = {k: v for k, v in EXAMPLE_ORDER.items() if k != "weight_kg"}


@pytest.mark.parametrize(
    ("parts", "order", "lots"),
    [
        pytest.param(
            {"weight": (72.5, "kg")}, {**BASE, "weight_kg": 72.5}, KOVALTRY, id="kg-ndc-medicare"
        ),
        pytest.param(
            {"weight": (159.8, "[lb_av]"), "medication": "concept", "coverage": "commercial"},
            {**BASE, "weight_kg": Decimal("159.8") * POUND, "code": "J7211",
             "payer": "example-commercial", "prior_authorization": "PA-2026-0042",
             "code_set": None},
            KOVALTRY, id="lb-inline-ndc-commercial",
        ),
        pytest.param(
            {"weight": (64000, "g"), "medication": "rxnorm", "coverage": None,
             "dose": (75, "[IU]/kg")},
            {**BASE, "weight_kg": 64, "product": "FEIBA", "code": "J7198", "dose_per_kg": 75,
             "payer": None, "code_set": None},
            feiba_lots(), id="g-rxnorm-no-coverage",
        ),
        pytest.param(
            {"dose": (3600, "[iU]")},
            {**BASE, "dose": 3600, "dose_per_kg": None, "weight_kg": 72.5},
            KOVALTRY, id="dose-in-iu",
        ),
    ],
)  # fmt: skip
def test_realistic_bundles_plan_as_their_order_json(
    parts: dict[str, Any], order: dict[str, Any], lots: Any
) -> None:
    same_plan(build(**parts), {k: v for k, v in order.items() if v is not None}, lots)


@settings(max_examples=40, deadline=None)
@given(
    pounds=st.decimals(min_value=Decimal("2"), max_value=Decimal("600"), places=3),
    per_kg=st.integers(10, 100),
)
def test_pounds_become_kilograms_exactly(pounds: Decimal, per_kg: int) -> None:
    bundle = build(weight=(pounds, "[lb_av]"), dose=(per_kg, "[iU]/kg"))
    reading = read_bundle(bundle)
    assert reading.order["weight_kg"] == Fraction(pounds) * Fraction(POUND)
    assert reading.order["dose_per_kg"] == per_kg


def test_the_latest_final_weight_of_the_patient_is_the_one_used() -> None:
    bundle = example()
    weight = resource(bundle, "Observation")
    older = copy.deepcopy(weight) | {"id": "w0", "effectiveDateTime": "2026-01-05"}
    older["valueQuantity"] = {**weight["valueQuantity"], "value": 120}
    draft = copy.deepcopy(weight) | {"id": "w2", "status": "preliminary",
                                    "effectiveDateTime": "2026-11-25"}  # fmt: skip
    draft["valueQuantity"] = {**weight["valueQuantity"], "value": 300}
    other = copy.deepcopy(weight) | {"id": "w3", "subject": {"reference": "Patient/someone"},
                                    "effectiveDateTime": "2026-11-25"}  # fmt: skip
    other["valueQuantity"] = {**weight["valueQuantity"], "value": 250}
    bundle["entry"] += [{"resource": r} for r in (older, draft, other)]
    assert read_bundle(bundle).order["weight_kg"] == Fraction("159.8") * Fraction(POUND)


def test_a_product_with_two_codes_needs_the_hcpcs_coding() -> None:
    # Jivi bills J7208 (per IU) and J7212 in the default set; no NDC is public for it
    bundle = build(medication="concept", coverage=None)
    concept = resource(bundle, "MedicationRequest")["medicationCodeableConcept"]
    concept["coding"] = [{"system": "https://factordose.org/fhir/CodeSystem/product",
                          "code": "jivi"}]  # fmt: skip
    with pytest.raises(FhirInputError) as refused:
        read_bundle(bundle)
    assert refused.value.field == "MedicationRequest.medicationCodeableConcept.coding"
    assert "J7208, J7212" in str(refused.value)
    concept["coding"].append(
        {"system": "http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets", "code": "J7208"}
    )
    assert read_bundle(bundle).order["code"] == "J7208"


def test_a_payer_without_a_profile_is_a_warning_not_a_guess() -> None:
    bundle = example()
    resource(bundle, "Coverage")["type"]["coding"][0]["code"] = "111"  # Medicare HMO
    reading = read_bundle(bundle)
    assert "payer" not in reading.order
    assert reading.warnings == [
        ("Coverage.type", "the coverage names a payer without a profile here: planned with the "
         "site's defaults"),
    ]  # fmt: skip
    resource(bundle, "Coverage")["type"]["coding"][0]["code"] = "1"  # Medicare, unspecified
    assert "fee-for-service (121) or Advantage" in read_bundle(bundle).warnings[0][1]


def test_the_site_defaults_apply_only_where_the_request_says_nothing() -> None:
    bundle = example()
    assert read_bundle(bundle, tolerance_pct=Fraction(5)).order["tolerance_pct"] == 10
    resource(bundle, "MedicationRequest")["extension"] = [
        {"url": EXT + "dose-mode", "valueCode": "exact_dose"}
    ]
    reading = read_bundle(bundle, tolerance_pct=Fraction(5), mode="whole_vials")
    assert reading.order["tolerance_pct"] == 5 and reading.order["mode"] == "exact_dose"


def _set(path: str, value: Any) -> Any:
    """A change to the example: ``Kind.key.key`` set to ``value`` (None: removed)."""

    def change(bundle: dict[str, Any]) -> dict[str, Any]:
        kind, *keys = path.split(".")
        target: Any = resource(bundle, kind)
        for key in keys[:-1]:
            target = target[int(key)] if key.isdigit() else target[key]
        if value is None:
            del target[keys[-1]]
        else:
            target[keys[-1]] = value
        return bundle

    return change


DOSE = "MedicationRequest.dosageInstruction.0.doseAndRate.0.doseQuantity"


@pytest.mark.parametrize(
    ("change", "element"),
    [
        (lambda b: without(b, "Observation"), "Bundle.entry"),
        (_set("MedicationRequest.status", "cancelled"), "MedicationRequest.status"),
        (_set("MedicationRequest.intent", "proposal"), "MedicationRequest.intent"),
        (_set("MedicationRequest.dosageInstruction.0.doseAndRate", None),
         "MedicationRequest.dosageInstruction[0].doseAndRate"),
        (_set("MedicationRequest.dosageInstruction.0.doseAndRate", [
            {"doseRange": {"low": {"value": 40}, "high": {"value": 60}}}]),
         "MedicationRequest.dosageInstruction[0].doseAndRate"),
        (_set(DOSE + ".code", "mg/kg"),
         "MedicationRequest.dosageInstruction[0].doseAndRate[0].doseQuantity.code"),
        (_set(DOSE + ".comparator", "<"),
         "MedicationRequest.dosageInstruction[0].doseAndRate[0].doseQuantity.comparator"),
        (_set(DOSE + ".value", "fifty"),
         "MedicationRequest.dosageInstruction[0].doseAndRate[0].doseQuantity.value"),
        (_set("Medication.code.coding", [{"system": "http://hl7.org/fhir/sid/ndc",
                                           "code": "99999-9999-99"}]), "Medication.code"),
        (_set("Medication.code.coding", [{"system": "http://hl7.org/fhir/sid/ndc",
                                           "code": "not an ndc"}]),
         "Medication.code.coding[0].code"),
        (_set("Medication.code.coding", [
            {"system": "http://hl7.org/fhir/sid/ndc", "code": "0026-3821-25"},
            {"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "1659998"}]),
         "Medication.code"),
        (_set("MedicationRequest.subject", {"reference": "Patient/nobody"}),
         "MedicationRequest.subject"),
        (_set("MedicationRequest.medicationReference", {"reference": "Medication/gone"}),
         "MedicationRequest.medicationReference"),
        (_set("Observation.valueQuantity.code", "[stone_av]"), "Observation.valueQuantity.code"),
        # a FHIR decimal, and 10^999999999 to compute exactly: refused before any arithmetic
        (_set("Observation.valueQuantity.value", Decimal("1E-999999999")),
         "Observation.valueQuantity.value"),
        (_set("Patient.birthDate", "2027-01-01"), "Patient.birthDate"),
        (_set("Patient.birthDate", "1992-02-30"), "Patient.birthDate"),
        (_set("Patient.shoeSize", 44), "Patient.shoeSize"),
        (_set("Coverage.extension", [{"url": EXT + "payer-profile",
                                      "valueString": "/etc/passwd"}]),
         "Coverage.extension(payer-profile)"),
        (lambda b: b | {"entry": b["entry"] + [{"resource": b["entry"][0]["resource"]}]},
         "Bundle.entry"),
        (lambda b: b | {"entry": b["entry"] + [b["entry"][0]]}, "Bundle.entry.fullUrl"),
        # found by a second trial: extensions of ours anywhere but where they are read
        (_set("Coverage.extension", [{"url": EXT + "payer-profle", "valueString": "medicare"}]),
         "Coverage.extension[0].url"),
        (_set("Coverage.extension", [
            {"url": EXT + "payer-profile", "valueString": "medicare"},
            {"url": EXT + "payer-profile", "valueString": "example-commercial"}]),
         "Coverage.extension(payer-profile)"),
        (_set("MedicationRequest.extension", [
            {"url": EXT + "payer-profile", "valueString": "medicare"}]),
         "MedicationRequest.extension(payer-profile)"),
        (_set("MedicationRequest.extension", [
            {"url": EXT + "prior-authorization", "valueCode": "PA-1"}]),
         "MedicationRequest.extension(prior-authorization)"),
        (_set("MedicationRequest.extension", [
            {"url": EXT + "tolerance-pct", "valueInteger": 5}]),
         "MedicationRequest.extension(tolerance-pct)"),
        (_set("Patient.extension", [{"url": EXT + "tolerance-pct", "valueDecimal": 5}]),
         "Patient.extension(tolerance-pct)"),
        (_set(DOSE + ".extension", [{"url": EXT + "tolerance-pct", "valueDecimal": 5}]),
         "MedicationRequest.dosageInstruction[0].doseAndRate[0].doseQuantity.extension"
         "(tolerance-pct)"),
        (_set("Coverage.beneficiary", {"reference": "Patient/someone-else"}),
         "Coverage.beneficiary"),
        (_set("MedicationRequest.dispenseRequest", {"performer": {"display": "Pharmacy"}}),
         None),  # no site named: the default site (an inline display names none)
        (lambda b: b | {"resourceType": "Patient"}, "Bundle"),
        # found by a new user's trial: each was planned as if it were not there
        (_set("MedicationRequest.doNotPerform", True), "MedicationRequest.doNotPerform"),
        (_set("MedicationRequest.modifierExtension", [
            {"url": "https://ehr.example/ext/hold", "valueBoolean": True}]),
         "MedicationRequest.modifierExtension"),
        (_set("MedicationRequest.dosageInstruction.0.modifierExtension", [
            {"url": "https://ehr.example/ext/hold", "valueBoolean": True}]),
         "MedicationRequest.dosageInstruction[0].modifierExtension"),
        (_set("Observation.valueQuantity.unit", "lb"), None),  # code [lb_av]: agrees
        (_set("Observation.valueQuantity.code", "kg"), "Observation.valueQuantity.unit"),
        (_set(DOSE + ".unit", "mg/kg"),
         "MedicationRequest.dosageInstruction[0].doseAndRate[0].doseQuantity.unit"),
        (_set(DOSE + ".unit", "units"),
         "MedicationRequest.dosageInstruction[0].doseAndRate[0].doseQuantity.unit"),
        (_set("MedicationRequest.extension", [
            {"url": EXT + "tolerance-pct", "valueDecimal": 5},
            {"url": EXT + "tolerance-pct", "valueDecimal": 20}]),
         "MedicationRequest.extension(tolerance-pct)"),
        (_set("MedicationRequest.extension", [{"url": EXT + "tolerance_pct", "valueDecimal": 5}]),
         "MedicationRequest.extension[0].url"),
        (_set("MedicationRequest.extension", [
            {"url": EXT.replace("https:", "http:") + "tolerance-pct", "valueDecimal": 5}]),
         "MedicationRequest.extension[0].url"),
        (_set("MedicationRequest.subject",
              {"reference": "https://elsewhere.example/fhir/Patient/pt-1001"}),
         "MedicationRequest.subject"),
        (lambda b: b | {"entry": [{"resource": {"resourceType": "Observation"}}] * 201},
         "Bundle.entry"),
    ],
)  # fmt: skip
def test_bad_bundles_are_refused_naming_the_element(change: Any, element: str | None) -> None:
    if element is None:  # the control: the change alone is fine
        read_bundle(change(example()))
        return
    with pytest.raises(FhirInputError) as refused:
        read_bundle(change(example()))
    assert refused.value.field == element
    assert refused.value.issues[0][0] == element
    assert "/etc/passwd" not in str(refused.value) and "fifty" not in str(refused.value)


def test_the_plan_refusing_an_order_field_names_the_element_it_came_from() -> None:
    # a weight inside FHIR but outside what an order takes (0.5 to 300 kg)
    bundle = build(weight=(900, "kg"))
    with pytest.raises(ValueError) as refused:
        plan_request(bundle, inventory=KOVALTRY)
    assert refused.value.field == "weight_kg"  # type: ignore[attr-defined]
    from dosing.fhir import error_outcome

    issue = error_outcome(refused.value)["issue"][0]  # type: ignore[arg-type]
    assert issue["expression"] == ["Observation.valueQuantity"]
    assert issue["diagnostics"].startswith("`weight_kg` must be")


def test_a_patient_is_found_by_its_type_and_id_too() -> None:
    bundle = example()
    for entry in bundle["entry"]:
        entry.pop("fullUrl")
    for kind in ("MedicationRequest", "Observation"):
        resource(bundle, kind)["subject"] = {"reference": "Patient/pt-1001"}
    resource(bundle, "MedicationRequest")["medicationReference"] = {
        "reference": "Medication/kovaltry"
    }
    resource(bundle, "MedicationRequest")["insurance"] = [{"reference": "Coverage/cov-1001"}]
    resource(bundle, "Coverage")["beneficiary"] = {"reference": "Patient/pt-1001"}
    reading = read_bundle(bundle)
    assert reading.patient == "Patient/pt-1001" and reading.request == "MedicationRequest/mr-1001"
    assert reading.order["weight_kg"] == Fraction("159.8") * Fraction(POUND)
    assert PATIENT not in str(reading.order)


def test_every_extension_read_is_in_the_design_doc_and_the_readme() -> None:
    from dosing.fhir.bundle import EXTENSIONS
    from tests.paths import ROOT

    source = (ROOT / "dosing" / "fhir" / "read.py").read_text()
    names = set(EXTENSIONS)
    assert set(re.findall(r'EXTENSION \+ "([a-z-]+)"', source)) <= names
    assert all(f'"{name}"' in source for name in names)  # each one read
    design = (ROOT / "docs" / "design.md").read_text().split("## FHIR", 1)[1]
    readme = (ROOT / "README.md").read_text().split("## EHR orders in FHIR R4", 1)[1]
    for name in names:
        assert f"`{name}`" in design and f"`{name}`" in readme, name


def _leaves(data: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(data, dict):
        return [p for k, v in data.items() for p in _leaves(v, (*path, k))] + [path]
    if isinstance(data, list):
        return [p for i, v in enumerate(data) for p in _leaves(v, (*path, i))] + [path]
    return [path]


LEAVES = [p for p in _leaves(example()) if p]
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**30), 10**30) | st.text(max_size=12)
    | st.decimals(allow_nan=False, allow_infinity=False),
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6,
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(where=st.sampled_from(LEAVES), value=JSON_VALUES | st.just("__delete__"))
def test_any_change_to_a_bundle_is_planned_or_refused_never_a_crash(
    where: tuple[Any, ...], value: Any
) -> None:
    bundle = example()
    target: Any = bundle
    for key in where[:-1]:
        target = target[key]
    if value == "__delete__":
        del target[where[-1]]
    else:
        target[where[-1]] = value
    try:
        plan_request(bundle, inventory=KOVALTRY)
    except ValueError as refused:  # InputError and FhirInputError are ValueErrors
        from dosing.errors import InputError

        assert isinstance(refused, InputError), type(refused)
        assert "\n" not in str(refused)


def test_two_different_weights_at_the_same_time_are_refused() -> None:
    bundle = example()
    twin = copy.deepcopy(resource(bundle, "Observation")) | {"id": "w2"}
    twin["valueQuantity"] = {**twin["valueQuantity"], "value": 132}
    bundle["entry"].append({"resource": twin})
    with pytest.raises(FhirInputError, match="two different weights at the same time"):
        read_bundle(bundle)
    twin["valueQuantity"]["value"] = 159.8  # the same weight recorded twice is one weight
    assert read_bundle(bundle).order["weight_kg"] == Fraction("159.8") * Fraction(POUND)


def test_what_is_read_past_is_said() -> None:
    bundle = example()
    resource(bundle, "Observation")["effectiveDateTime"] = "2026-08-01"
    resource(bundle, "Coverage")["status"] = "cancelled"
    resource(bundle, "MedicationRequest")["dosageInstruction"][0]["timing"] = {
        "event": ["2026-11-26", "2026-11-29"]
    }
    said = dict(read_bundle(bundle).warnings)
    assert said["Observation.effective[x]"] == (
        "the body weight is 117 days old (measured 2026-08-01): confirm it before dosing by weight"
    )
    assert said["Coverage.status"] == "no active coverage: planned with the site's defaults"
    assert said["MedicationRequest.dosageInstruction[0].timing"].startswith("one dose planned")


def test_sevenfact_needs_a_code_set_that_bills_it() -> None:
    # Sevenfact is J7212 in the CMS set and has no code in the default (spec) set
    bundle = build(medication="concept", coverage=None, dose=(225, "ug/kg"))
    concept = resource(bundle, "MedicationRequest")["medicationCodeableConcept"]
    concept["coding"] = [{"system": "http://hl7.org/fhir/sid/ndc", "code": "71127-5000-1"}]
    with pytest.raises(FhirInputError, match="cms: J7212") as refused:
        read_bundle(bundle)
    assert refused.value.field == "Bundle"
    order = read_bundle(bundle, code_set="cms").order
    assert (order["code"], order["code_set"], order["dose_per_kg"]) == ("J7212", "cms", 225)
    import datetime as dt

    from optimizer import Lot

    lots = [Lot("SF5", Fraction(5000), 6, expires=dt.date(2028, 1, 31), product="Sevenfact")]
    answer, ok = plan_request(bundle, inventory=lots, code_set="cms")  # the Python API too
    assert ok and any(e["resource"]["resourceType"] == "ChargeItem" for e in answer["entry"])
    medicare = build(medication="concept", dose=(0.225, "mg/kg"))
    resource(medicare, "MedicationRequest")["medicationCodeableConcept"] = concept
    order = read_bundle(medicare).order
    assert (order["code"], order["code_set"], order["dose_per_kg"]) == ("J7212", "cms", 225)


def test_one_weight_recorded_in_two_units_is_one_weight() -> None:
    bundle = example()
    same = copy.deepcopy(resource(bundle, "Observation")) | {"id": "w-kg"}
    same["valueQuantity"] = {"value": Decimal("72.484060726"), "unit": "kg",
                             "system": "http://unitsofmeasure.org", "code": "kg"}  # fmt: skip
    bundle["entry"].append({"resource": same})
    assert read_bundle(bundle).order["weight_kg"] == Fraction("72.484060726")


def test_a_pharmacy_without_an_identifier_is_not_a_site() -> None:
    bundle = example()
    resource(bundle, "MedicationRequest")["dispenseRequest"] = {
        "performer": {"reference": "Organization/rx"}
    }
    bundle["entry"].append({"resource": {"resourceType": "Organization", "id": "rx",
                                         "name": "Main St Pharmacy"}})  # fmt: skip
    with pytest.raises(FhirInputError) as refused:
        read_bundle(bundle)
    assert refused.value.field == "MedicationRequest.dispenseRequest.performer"
    organization = resource(bundle, "Organization")
    organization["identifier"] = [{"system": "urn:site", "value": "HTC-0001"}]
    assert read_bundle(bundle).order["site"] == "HTC-0001"


@pytest.mark.parametrize(
    ("change", "issue_type"),
    [
        (_set("Medication.code.coding", [
            {"system": "http://hl7.org/fhir/sid/ndc", "code": "0026-3821-25"},
            {"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "1659998"}]),
         "conflict"),
        (_set("MedicationRequest.modifierExtension", [
            {"url": "https://ehr.example/ext/hold", "valueBoolean": True}]), "not-supported"),
        (lambda b: without(b, "Observation"), "required"),
        (_set("MedicationRequest.subject", {"reference": "Patient/nobody"}), "not-found"),
    ],
)  # fmt: skip
def test_each_refusal_says_its_fhir_issue_type(change: Any, issue_type: str) -> None:
    from dosing.fhir import error_outcome

    with pytest.raises(FhirInputError) as refused:
        read_bundle(change(example()))
    assert error_outcome(refused.value)["issue"][0]["code"] == issue_type
