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
code_set             spec, cms or a CSV path; empty: the payer's code set, else spec
ndc_quantity         the NDC quantity the line bills (N4 segment)
ndc_unit             its qualifier: F2, ME, UN, ML or GR
narrative            other NDCs of the service (item 19 / loop 2400 NTE)
340b                 yes / no: the drug was acquired under the 340B program
==================== ==========================================================

The amounts of one service (claim, code, date) are documented on each of its
rows alike: they describe the whole dose, not one line.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal, localcontext
from fractions import Fraction
from typing import BinaryIO

from dosing.errors import InputError
from dosing.pipeline import Plan
from optimizer.errors import Described
from optimizer.numbers import parse_number

__all__ = [
    "CLAIM_COLUMNS",
    "MAX_ROW",
    "REQUIRED_CLAIM_COLUMNS",
    "ClaimRow",
    "RawRow",
    "parse_claim_row",
    "read_claims",
    "rows_from_plan",
]

#: The longest row read, in bytes; a longer one is unreadable (its cells are
#: never buffered whole).
MAX_ROW = 64 * 2**10

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
    "ndc_quantity",
    "ndc_unit",
    "narrative",
    "340b",
)
#: N4 unit qualifiers a claim line may carry.
NDC_QUALIFIERS = ("F2", "ME", "UN", "ML", "GR")
_SEPARATORS = str.maketrans({";": " ", ",": " "})
_YES = {"yes", "y", "true", "1"}
_NO = {"no", "n", "false", "0", ""}


@dataclass(frozen=True)
class RawRow:
    """One physical line of the claims file: its cells by column, or why it
    cannot be read (naming the column where there is one, never the content)."""

    number: int  # the line number (the header is 1)
    cells: dict[str, str | None] | None
    problem: str = ""

    @property
    def claim_id(self) -> str:
        return ((self.cells or {}).get("claim_id") or "").strip()


def read_claims(handle: BinaryIO, name: str) -> tuple[list[str], Iterator[RawRow]]:
    """The header and the rows of a claims CSV opened in binary.

    Every physical line is one row, counted once: a row's cells never run onto
    the next line, so a quote left open, a cell past :data:`MAX_ROW`, bytes
    that are not UTF-8 or a blank line make that line unreadable and the next
    one is read as usual.  Blank lines at the end of the file are no rows.
    """
    first = handle.readline(MAX_ROW + 1)
    try:
        text = first.rstrip(b"\r\n").decode("utf-8-sig")
        header = [h.strip() for h in _cells(text)]
    except (UnicodeDecodeError, csv.Error, ValueError):
        raise InputError(
            "claims header", "a CSV header in UTF-8 on one line", Described(name)
        ) from None
    return header, _rows(handle, header)


def _rows(handle: BinaryIO, header: list[str]) -> Iterator[RawRow]:
    number, blanks = 1, []
    while True:
        raw = handle.readline(MAX_ROW + 1)
        if not raw:
            return
        number += 1
        if len(raw) > MAX_ROW and not raw.endswith(b"\n"):
            while raw and not raw.endswith(b"\n"):
                raw = handle.readline(MAX_ROW)
            row = RawRow(number, None, f"longer than {MAX_ROW:,} bytes")
        elif not raw.strip():
            blanks.append(number)  # reported only if a row follows
            continue
        else:
            row = _row(number, raw.rstrip(b"\r\n"), header)
        for blank in blanks:
            yield RawRow(blank, None, "an empty row")
        blanks.clear()
        yield row


def _row(number: int, raw: bytes, header: list[str]) -> RawRow:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return RawRow(number, None, f"a byte that is not UTF-8 at column {exc.start + 1}")
    try:
        cells = _cells(text)
    except (csv.Error, ValueError):
        return RawRow(
            number, None, "not a CSV row (a quote left open or a stray one, or a bare CR)"
        )
    if len(cells) > len(header):
        return RawRow(number, None, f"{len(cells)} cells, more than the header's {len(header)}")
    values: list[str | None] = [*cells, *([None] * (len(header) - len(cells)))]
    return RawRow(number, dict(zip(header, values, strict=True)))


def _cells(line: str) -> list[str]:
    """The cells of one line of CSV; a quote left open is an error, not a
    licence to read on."""
    if "\n" in line or "\r" in line:
        raise ValueError("a line break inside the row")
    return next(csv.reader([line], strict=True), [])


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
    ndc_quantity: Fraction | None = None
    ndc_unit: str = ""
    narrative: str = ""
    acquired_340b: bool = False


def parse_claim_row(raw: dict[str, str | None], row: int) -> ClaimRow:
    """A :class:`ClaimRow`, or :class:`InputError` naming the column.

    Claims files repeat the same dates, amounts and lists on many rows, so
    each distinct text is parsed once (bounded caches).
    """
    cells = {name: value.strip() for name, value in raw.items() if isinstance(value, str)}
    get = cells.get
    for name in REQUIRED_CLAIM_COLUMNS:
        if name != "modifiers" and not get(name):
            raise InputError(name, "filled in", "an empty cell")
    units_text = cells["units"]
    if not units_text.isdigit():
        raise InputError("units", "a whole number of billing units", units_text)
    documented = get("discard_documented", "").lower()
    if documented not in _YES and documented not in _NO:
        raise InputError("discard_documented", "yes or no", get("discard_documented"))
    setting = get("setting", "").lower() or "administered"
    if setting not in ("administered", "dispensed"):
        raise InputError("setting", "administered or dispensed", get("setting"))
    ndc_unit = get("ndc_unit", "").upper()
    if ndc_unit and ndc_unit not in NDC_QUALIFIERS:
        raise InputError("ndc_unit", f"one of {', '.join(NDC_QUALIFIERS)}", get("ndc_unit"))
    flag_340b = get("340b", "").lower()
    if flag_340b not in _YES and flag_340b not in _NO:
        raise InputError("340b", "yes or no", get("340b"))
    return ClaimRow(
        row=row,
        claim_id=cells["claim_id"],
        line_id=cells["line_id"],
        patient_id=cells["patient_id"],
        payer=cells["payer"],
        date_of_service=_date(cells["date_of_service"], "date_of_service"),
        submission_date=_date(cells["submission_date"], "submission_date"),
        code=cells["code"].upper(),
        modifiers=_codes(get("modifiers", "")),
        units=int(units_text),
        ndc=get("ndc", ""),
        diagnosis_codes=_codes(get("diagnosis_codes", "")),
        weight_kg=_amount(get("weight_kg", ""), "weight_kg"),
        dose_per_kg=_amount(get("dose_per_kg", ""), "dose_per_kg"),
        ordered_amount=_amount(get("ordered_amount", ""), "ordered_amount"),
        administered_amount=_amount(get("administered_amount", ""), "administered_amount"),
        discarded_amount=_amount(get("discarded_amount", ""), "discarded_amount"),
        discard_documented=documented in _YES,
        prior_authorization=get("prior_authorization", ""),
        prior_products=_list(get("prior_products", "")),
        site=get("site", ""),
        setting=setting,
        code_set=get("code_set", ""),
        ndc_quantity=_amount(get("ndc_quantity", ""), "ndc_quantity"),
        ndc_unit=ndc_unit,
        narrative=get("narrative", ""),
        acquired_340b=flag_340b in _YES,
    )


@functools.lru_cache(maxsize=4096)
def _date(text: str, name: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise InputError(name, "an ISO date YYYY-MM-DD", text) from None


@functools.lru_cache(maxsize=16384)
def _amount(text: str, name: str) -> Fraction | None:
    if not text:
        return None
    value = parse_number(text, name, error=InputError)
    if value < 0:
        raise InputError(name, "a number >= 0", text)
    return value


@functools.lru_cache(maxsize=1024)
def _codes(text: str) -> tuple[str, ...]:
    return tuple(part.upper() for part in text.translate(_SEPARATORS).split())


@functools.lru_cache(maxsize=1024)
def _list(text: str) -> tuple[str, ...]:
    return tuple(text.translate(_SEPARATORS).split())


def rows_from_plan(
    plan: Plan, *, claim_id: str, submission_date: dt.date, payer: str | None = None
) -> list[dict[str, str]]:
    """The claims-file rows that bill a planned dose, documentation included."""
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
        "340b": "yes" if order.acquired_340b else "no",
    }
    return [
        {
            **service,
            "line_id": str(number),
            "modifiers": " ".join(line.modifiers),
            "units": str(line.units),
            "ndc": line.ndc or "",
            "ndc_quantity": "" if line.ndc_quantity is None else format(line.ndc_quantity, "f"),
            "ndc_unit": line.ndc_unit or "",
            "narrative": line.narrative,
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
