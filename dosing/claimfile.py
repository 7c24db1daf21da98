"""The claims CSV that ``factordose check`` reads, and the rows a plan bills.

Columns (README "Checking claims"); the first nine are required, the rest may
be left empty where a check does not apply:

==================== ==========================================================
claim_id             the claim (its lines are consecutive rows)
line_id              the line within the claim
patient_id           the patient
payer                a payer profile name or path (``--payer`` overrides)
date_of_service      ISO date
submission_date      ISO date the claim is (to be) submitted
code                 HCPCS code
modifiers            modifiers separated by spaces, ``;`` or ``,`` (``JW KX``)
units                billed units (a whole number)
ndc                  NDC, 10-digit hyphenated or 11-digit
diagnosis_codes      ICD-10-CM codes separated by ``;`` (``D66``)
weight_kg            documented weight
dose_per_kg          documented dose per kg, in the code's unit of measure
ordered_amount       ordered amount, in the code's unit of measure
administered_amount  amount administered (given to the patient)
discarded_amount     amount discarded from single-dose vials (dispensed = the two)
discard_documented   yes / no: the discard is documented in the record
prior_authorization  the prior authorization number
prior_products       products tried before, separated by ``;``
site                 site of care or pharmacy id
setting              administered (default) or dispensed
code_set             spec (default), cms or a CSV path
==================== ==========================================================

The amounts of one service (claim, code, date) are documented on each of its
rows alike: they describe the whole dose, not one line.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal, localcontext
from fractions import Fraction

from dosing.errors import InputError
from optimizer.numbers import parse_number

__all__ = [
    "CLAIM_COLUMNS",
    "REQUIRED_CLAIM_COLUMNS",
    "ClaimRow",
    "parse_claim_row",
    "rows_from_plan",
]

REQUIRED_CLAIM_COLUMNS = (
    "claim_id",
    "line_id",
    "patient_id",
    "payer",
    "date_of_service",
    "submission_date",
    "code",
    "modifiers",
    "units",
)
CLAIM_COLUMNS = (
    *REQUIRED_CLAIM_COLUMNS,
    "ndc",
    "diagnosis_codes",
    "weight_kg",
    "dose_per_kg",
    "ordered_amount",
    "administered_amount",
    "discarded_amount",
    "discard_documented",
    "prior_authorization",
    "prior_products",
    "site",
    "setting",
    "code_set",
)
_SEPARATORS = str.maketrans({";": " ", ",": " "})
_YES = {"yes", "y", "true", "1"}
_NO = {"no", "n", "false", "0", ""}


@dataclass(frozen=True)
class ClaimRow:
    """One checked-readable line of the claims file."""

    row: int  # line number in the file (the header is 1)
    claim_id: str
    line_id: str
    patient_id: str
    payer: str
    date_of_service: dt.date
    submission_date: dt.date
    code: str
    modifiers: tuple[str, ...]
    units: int
    ndc: str
    diagnosis_codes: tuple[str, ...]
    weight_kg: Fraction | None
    dose_per_kg: Fraction | None
    ordered_amount: Fraction | None
    administered_amount: Fraction | None
    discarded_amount: Fraction | None
    discard_documented: bool
    prior_authorization: str
    prior_products: tuple[str, ...]
    site: str
    setting: str
    code_set: str


def parse_claim_row(raw: dict[str, str | None], row: int) -> ClaimRow:
    """A :class:`ClaimRow`, or :class:`InputError` naming the column."""

    def cell(name: str) -> str:
        value = raw.get(name)
        return value.strip() if isinstance(value, str) else ""

    for name in REQUIRED_CLAIM_COLUMNS:
        if name != "modifiers" and not cell(name):
            raise InputError(name, "filled in", "an empty cell")

    def date(name: str) -> dt.date:
        try:
            return dt.date.fromisoformat(cell(name))
        except ValueError:
            raise InputError(name, "an ISO date YYYY-MM-DD", cell(name)) from None

    def amount(name: str) -> Fraction | None:
        text = cell(name)
        if not text:
            return None
        value = parse_number(text, name, error=InputError)
        if value < 0:
            raise InputError(name, "a number >= 0", text)
        return value

    units_text = cell("units")
    if not units_text.isdigit():
        raise InputError("units", "a whole number of billing units", units_text)
    documented = cell("discard_documented").lower()
    if documented not in _YES | _NO:
        raise InputError("discard_documented", "yes or no", cell("discard_documented"))
    setting = cell("setting").lower() or "administered"
    if setting not in ("administered", "dispensed"):
        raise InputError("setting", "administered or dispensed", cell("setting"))
    return ClaimRow(
        row=row,
        claim_id=cell("claim_id"),
        line_id=cell("line_id"),
        patient_id=cell("patient_id"),
        payer=cell("payer"),
        date_of_service=date("date_of_service"),
        submission_date=date("submission_date"),
        code=cell("code").upper(),
        modifiers=tuple(m.upper() for m in cell("modifiers").translate(_SEPARATORS).split()),
        units=int(units_text),
        ndc=cell("ndc"),
        diagnosis_codes=tuple(
            d.upper() for d in cell("diagnosis_codes").translate(_SEPARATORS).split()
        ),
        weight_kg=amount("weight_kg"),
        dose_per_kg=amount("dose_per_kg"),
        ordered_amount=amount("ordered_amount"),
        administered_amount=amount("administered_amount"),
        discarded_amount=amount("discarded_amount"),
        discard_documented=documented in _YES,
        prior_authorization=cell("prior_authorization"),
        prior_products=tuple(cell("prior_products").translate(_SEPARATORS).split()),
        site=cell("site"),
        setting=setting,
        code_set=cell("code_set") or "spec",
    )


def rows_from_plan(
    plan: object, *, claim_id: str, submission_date: dt.date, payer: str | None = None
) -> list[dict[str, str]]:
    """The claims-file rows that bill a planned dose, documentation included."""
    from dosing.pipeline import Plan

    if not isinstance(plan, Plan) or not plan.ok:
        raise InputError("plan", "a feasible Plan (status ok)", getattr(plan, "status", plan))
    order = plan.order
    assert plan.administered is not None and plan.discarded is not None
    service = {
        "claim_id": claim_id,
        "patient_id": order.patient_id or "",
        "payer": payer or (plan.payer.name if plan.payer else order.payer or ""),
        "date_of_service": order.date_of_service.isoformat() if order.date_of_service else "",
        "submission_date": submission_date.isoformat(),
        "code": plan.code.code,
        "diagnosis_codes": ";".join(order.diagnosis_codes),
        "weight_kg": _text(order.weight_kg),
        "dose_per_kg": _text(order.dose_per_kg),
        "ordered_amount": _text(plan.ordered),
        "administered_amount": _text(plan.administered),
        "discarded_amount": _text(plan.discarded),
        "discard_documented": "yes" if plan.discarded else "no",
        "prior_authorization": order.prior_authorization or "",
        "prior_products": ";".join(order.prior_products),
        "site": order.site or "",
        "setting": order.setting.value,
        "code_set": plan.code_set,
    }
    return [
        {
            **service,
            "line_id": str(number),
            "modifiers": " ".join(line.modifiers),
            "units": str(line.units),
            "ndc": line.ndc or "",
        }
        for number, line in enumerate(plan.claim_lines, start=1)
    ]


def _text(value: Fraction | None) -> str:
    """An exact decimal for the CSV (amounts here are decimals typed by people)."""
    if value is None:
        return ""
    with localcontext() as context:
        context.prec = 60
        text = str(Decimal(value.numerator) / Decimal(value.denominator))
    return text.rstrip("0").rstrip(".") if "." in text else text
