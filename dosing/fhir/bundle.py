"""The request Bundle checked before anything is read from it: valid FHIR R4
by ``fhir.resources``' R4B models (every ``resourceType`` a resource, up to
:data:`MAX_ENTRIES` entries), this program's extensions where they belong, no
modifier extension it would read past; and its resources indexed for
references.  Errors name the element as a FHIRPath rooted at the resource's
type; values given are described, never quoted.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.reference import Reference
from fhir.resources.R4B.resource import Resource
from pydantic import ValidationError

from dosing.errors import InputError
from optimizer.errors import Described, escape

__all__ = [
    "EXTENSION",
    "EXTENSIONS",
    "EXTENSIONS_AT",
    "HCPCS",
    "ICD10CM",
    "LOINC",
    "MAX_ENTRIES",
    "NDC",
    "PRODUCT",
    "RXNORM",
    "SOPT",
    "UCUM",
    "FhirInputError",
    "Index",
    "checked_bundle",
    "no_modifier_extensions",
    "our_extensions",
]

#: This project's extensions: ``EXTENSION + "tolerance-pct"`` and so on.
EXTENSION = "https://factordose.org/fhir/StructureDefinition/"
#: The extensions read (docs/design.md "FHIR"), with their value's type
VALUE_OF = {
    "tolerance-pct": "valueDecimal",
    "tolerance-under-pct": "valueDecimal",
    "tolerance-over-pct": "valueDecimal",
    "max-vials": "valuePositiveInt",
    "dose-mode": "valueCode",
    "prior-authorization": "valueString",
    "payer-profile": "valueString",
    "override-reason": "valueString",
}
EXTENSIONS = tuple(VALUE_OF)
#: Where each is read: on the resource itself, nowhere else
EXTENSIONS_AT = {
    "MedicationRequest": frozenset(EXTENSIONS) - {"payer-profile"},
    "Coverage": frozenset({"payer-profile"}),
}
NDC = "http://hl7.org/fhir/sid/ndc"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
HCPCS = "http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets"
#: The catalog's own ids (``jivi``), for products no public NDC or RxNorm id names
PRODUCT = "https://factordose.org/fhir/CodeSystem/product"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
#: Source of Payment Typology, by its THO URI and its OID
SOPT = ("https://nahdo.org/sopt", "urn:oid:2.16.840.1.113883.3.221.5")
MAX_ENTRIES = 200


class FhirInputError(InputError):
    """A Bundle that cannot be planned: ``field`` is the FHIRPath of the element,
    ``code`` the FHIR issue type (``invalid``, ``required``, ``not-found``,
    ``conflict``, ``not-supported``), ``issues`` every problem found as
    (FHIRPath, message) when there are several."""

    def __init__(
        self,
        field: str,
        expected: str,
        got: object,
        *,
        code: str = "invalid",
        issues: Sequence[tuple[str, str]] = (),
    ) -> None:
        super().__init__(field, expected, got)
        self.code = code
        self.issues = tuple(issues) or ((field, str(self)),)


def checked_bundle(data: object) -> Bundle:
    """``data`` (parsed JSON) as a validated R4B Bundle, or :class:`FhirInputError`."""
    if not isinstance(data, Mapping) or data.get("resourceType") != "Bundle":
        raise FhirInputError("Bundle", "a FHIR Bundle (resourceType Bundle)", Described("another"))
    entries = data.get("entry")
    if isinstance(entries, list) and len(entries) > MAX_ENTRIES:
        raise FhirInputError(
            "Bundle.entry", f"at most {MAX_ENTRIES} entries", Described(f"{len(entries):,}")
        )
    _resource_types(data, "Bundle")
    try:
        return Bundle.model_validate(data)
    except (TypeError, KeyError, AttributeError, IndexError):  # fhir-core on odd shapes
        raise FhirInputError(
            "Bundle", "valid FHIR R4", Described("a structure the FHIR models cannot read")
        ) from None
    except ValidationError as exc:
        found = [_issue(error, data) for error in exc.errors()[:20]]
        issues = [(path, str(InputError(path, expected, got))) for path, expected, got in found]
        path, expected, got = found[0]
        raise FhirInputError(path, expected, got, issues=issues) from None


def our_extensions(data: object, path: str, allowed: frozenset[str], top: bool = True) -> None:
    """This program's extensions: each spelled as documented, where it is read
    (on the resource itself), once, with its value type; never ignored."""
    if isinstance(data, Mapping):
        seen: set[str] = set()
        extensions = data.get("extension")
        for i, extension in enumerate(extensions if isinstance(extensions, list) else []):
            url = str(extension.get("url", "")) if isinstance(extension, Mapping) else ""
            if "factordose" not in url.lower():
                continue  # another's: FHIR lets a reader ignore it
            name = url.rstrip("/").rsplit("/", 1)[-1]
            if url != EXTENSION + name or name not in VALUE_OF:
                raise FhirInputError(
                    f"{path}.extension[{i}].url",
                    f"one of this program's extensions ({EXTENSION}: {', '.join(EXTENSIONS)})",
                    Described("another"),
                )
            where = f"{path}.extension({name})"
            if not top or name not in allowed:
                places = ", ".join(k for k, v in EXTENSIONS_AT.items() if name in v)
                raise FhirInputError(where, f"on the {places} itself", Described("elsewhere"))
            if name in seen:
                raise FhirInputError(where, "given once", Described("twice"))
            seen.add(name)
            values = [k for k in extension if k.startswith("value")]
            if values != [VALUE_OF[name]]:
                raise FhirInputError(where, f"a {VALUE_OF[name]}", Described("another value"))
        for key, value in data.items():
            if key != "extension":
                our_extensions(value, f"{path}.{key}", allowed, top=False)
    elif isinstance(data, list):
        for i, value in enumerate(data):
            our_extensions(value, f"{path}[{i}]", allowed, top=False)


def no_modifier_extensions(data: object, path: str) -> None:
    """A modifier extension changes what its element means: one this program does
    not know must not be read past (FHIR R4, Extensibility)."""
    if isinstance(data, Mapping):
        if data.get("modifierExtension"):
            raise FhirInputError(
                f"{path}.modifierExtension", "absent: none is understood here",
                Described("a modifier extension"), code="not-supported",
            )  # fmt: skip
        for key, value in data.items():
            no_modifier_extensions(value, f"{path}.{key}")
    elif isinstance(data, list):
        for i, value in enumerate(data):
            no_modifier_extensions(value, f"{path}[{i}]")


def _resource_types(data: object, path: str) -> None:
    """Every ``resourceType`` (the Bundle's, its entries', contained ones) names
    a FHIR R4 resource: the models index by it before they validate anything."""
    if isinstance(data, Mapping):
        if "resourceType" in data:
            kind = data["resourceType"]
            try:
                known = isinstance(kind, str) and issubclass(get_fhir_model_class(kind), Resource)
            except ValueError:
                known = False
            if not known:
                raise FhirInputError(
                    f"{path}.resourceType", "a FHIR R4 resource type", Described("another")
                )
        for key, value in data.items():
            _resource_types(value, f"{path}.{key}")
    elif isinstance(data, list):
        for i, value in enumerate(data):
            _resource_types(value, f"{path}[{i}]")


def _issue(error: Mapping[str, Any], data: Mapping[str, Any]) -> tuple[str, str, object]:
    """(FHIRPath, expected, got) of one validation error, rooted at its resource's
    type (``Patient.birthDate``); never quoting the value given."""
    loc = list(error.get("loc", ()))
    path = "Bundle"
    if len(loc) >= 3 and loc[0] == "entry" and loc[2] == "resource":
        entries = data.get("entry")
        entry = entries[loc[1]] if isinstance(entries, list) and isinstance(loc[1], int) else None
        held = entry.get("resource") if isinstance(entry, Mapping) else None
        kind = held.get("resourceType") if isinstance(held, Mapping) else None
        path = kind if isinstance(kind, str) and kind.isalpha() else f"Bundle.entry[{loc[1]}]"
        loc = loc[3:]
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    message = escape(str(error.get("msg", "")).removeprefix("Value error, ").rstrip("."))[:120]
    if message.startswith("String should match pattern"):
        message = "text of the characters FHIR allows here"
    given = error.get("input")
    if not message or (isinstance(given, str) and given and given in message):
        message = "a valid value"
    if error.get("type") == "missing":
        return path, "present (FHIR R4 requires it)", "nothing"
    if error.get("type") == "extra_forbidden":
        return path, "an element FHIR R4 defines here", Described("another")
    if message.endswith("value string does not match spec regex"):  # fhir-core's primitives
        return path, f"a FHIR {message.split()[0].lower()}", Described("another value")
    return path, f"valid FHIR R4 ({message})", Described("another value")


class Index:
    """The Bundle's resources by fullUrl and by ``Type/id``."""

    def __init__(self, entries: Iterable[Any]) -> None:
        self.resources: list[Any] = []
        self.by_reference: dict[str, Any] = {}
        self.full_urls: dict[int, str] = {}
        for entry in entries:
            resource = entry.resource
            self.resources.append(resource)
            if entry.fullUrl:
                if str(entry.fullUrl) in self.by_reference:
                    raise FhirInputError(
                        "Bundle.entry.fullUrl", "unique in the Bundle", Described("repeated")
                    )
                self.by_reference[str(entry.fullUrl)] = resource
                self.full_urls[id(resource)] = str(entry.fullUrl)
            if resource.id:
                self.by_reference[f"{resource.get_resource_type()}/{resource.id}"] = resource

    def of_type(self, kind: type) -> list[Any]:
        return [r for r in self.resources if isinstance(r, kind)]

    def reference_to(self, resource: Any) -> str:
        """How the response refers to ``resource``: its fullUrl, else ``Type/id``."""
        if id(resource) in self.full_urls:
            return self.full_urls[id(resource)]
        if resource.id:
            return f"{resource.get_resource_type()}/{resource.id}"
        return ""

    def resolve(self, reference: Reference | None, kind: type, where: str) -> Any:
        if reference is None or not reference.reference:
            raise FhirInputError(where, f"a reference to the Bundle's {kind.__name__}", "none")
        # a fullUrl, or Type/id (an absolute URL on another server is not this Bundle's)
        found = self.by_reference.get(str(reference.reference))
        if not isinstance(found, kind):
            raise FhirInputError(
                where,
                f"a reference to a {kind.__name__} in the Bundle",
                Described("one the Bundle does not hold"),
                code="not-found",
            )
        return found


# --- the resources ------------------------------------------------------------------
