"""Pre-submission claim checks: the denials of docs/billing.md section 7, caught first.

Every rule has a stable id, a severity and the section of docs/billing.md it
enforces (``RULES``).  :class:`Checker` reads the claims file as a stream,
one claim (its consecutive rows) at a time, so memory stays bounded whatever
the file's size; the only state kept across claims is one 64-bit hash per
distinct line, for the duplicate check.  Every row is accounted for: checked,
or reported as ``row-unreadable`` with the column at fault.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable, Iterator, Mapping
from fractions import Fraction
from pathlib import Path
from typing import BinaryIO

from dosing.audit.claimfile import (
    CLAIM_COLUMNS,
    REQUIRED_CLAIM_COLUMNS,
    ClaimRow,
    RawRow,
    parse_claim_row,
    read_claims,
)
from dosing.audit.rules import RULES, ClaimResult, Finding, Summary
from dosing.billing.catalog import load_catalog
from dosing.billing.codesets import DEFAULT_CODE_SET, BillingCode, CodeSet, load_code_set
from dosing.billing.crosswalk import Crosswalk
from dosing.billing.mue import Mue
from dosing.billing.ndc import normalize_ndc
from dosing.billing.payers import PayerProfile, load_payer
from dosing.errors import DosingError, InputError
from optimizer import Tolerance
from optimizer.errors import Described, at, misspelled
from optimizer.numbers import ceil_div, counted, floor_div

__all__ = ["Checker"]

#: How a check reports: ``found(rule_id, message)``.
Found = Callable[..., None]

#: ICD-10-CM codes that support a claim for a code no catalog product is billed
#: under (a code set of one's own), by factor (docs/billing.md sections 6 and 8):
#: D66 hereditary factor VIII deficiency, D68.311 acquired hemophilia, D67
#: hereditary factor IX deficiency, D68.0 von Willebrand disease.
FACTOR_DIAGNOSES = {"VIII": ("D66", "D68.311"), "IX": ("D67",), "VWF": ("D68.0",)}


class Checker:
    """Checks claims; keeps the duplicate hashes and a :class:`Summary` as it goes."""

    def __init__(
        self,
        payer: str | Path | None = None,
        *,
        base_dir: Path | None = None,
        crosswalk: Crosswalk | None = None,
        mue: Mapping[str, Mue] | None = None,
    ) -> None:
        """``payer`` applies one profile to every row.  Code sets and payer profiles
        named by path in the file's columns are read only inside ``base_dir``
        (the CLI gives the claims file's folder): :mod:`dosing.files`.
        ``crosswalk`` tells which code each NDC is billed under, before the
        catalog's NDCs; ``mue`` (a CMS MUE table) applies over every profile's."""
        self.base_dir = base_dir
        self.mue = mue
        self.crosswalk = crosswalk
        self.catalog = load_catalog()
        self._indications: dict[str, tuple[tuple[str, ...], str]] = {}
        self.payer_override = (
            self._with_mue(load_payer(payer, base_dir=base_dir)) if payer is not None else None
        )
        self.summary = Summary()
        self._seen: set[int] = set()
        self._payers: dict[str, PayerProfile | None] = {}
        self._code_sets: dict[str, CodeSet | None] = {}
        self._ndcs: dict[str, bool] = {}

    def check_file(self, path: Path) -> Iterator[ClaimResult]:
        """The results claim by claim; the header is checked before any row."""
        if path.is_dir():
            raise InputError("claims", "a CSV file, not a folder", at(path))
        try:
            handle = path.open("rb")
        except OSError as exc:
            why = at(path, f": {exc.strerror}")  # the path, its end kept when long
            raise InputError("claims", "a readable CSV file", why) from None
        with handle:
            yield from self.check_stream(handle, str(path))

    def check_stream(self, handle: BinaryIO, name: str) -> Iterator[ClaimResult]:
        """The results of the claims CSV read from ``handle`` (an upload), claim by
        claim; ``name`` is how messages call it."""
        header, rows = read_claims(handle, name)
        if len(set(header)) != len(header):
            raise InputError(
                "claims header", "each column named once", Described("a column named twice")
            )
        for column in header:
            meant = misspelled(column, CLAIM_COLUMNS)
            if meant is not None:  # read as absent, a 340B or NDC column would be lost
                raise InputError(
                    "claims header",
                    f"column names spelled as in the README: `{meant}`, not a column "
                    "like it (rename it, or remove it)",
                    Described("a column spelled otherwise"),
                )
        missing = [c for c in REQUIRED_CLAIM_COLUMNS if c not in header]
        if missing:
            raise InputError(
                "claims header",
                "the columns " + ",".join(REQUIRED_CLAIM_COLUMNS) + " (see README)",
                Described(f"a header without {', '.join(missing)}"),
            )
        for claim_id, group in itertools.groupby(rows, key=lambda row: row.claim_id):
            yield self.check_claim(claim_id, group)

    def check_claim(self, claim_id: str, raw_rows: Iterable[RawRow]) -> ClaimResult:
        findings: list[Finding] = []
        rows: list[ClaimRow] = []
        count = 0
        for raw in raw_rows:
            count += 1
            problem = raw.problem
            if raw.cells is not None:
                try:
                    rows.append(parse_claim_row(raw.cells, raw.number))
                    continue
                except InputError as exc:  # named by column, never by the cell's content
                    problem = f"column `{exc.field}` must be {exc.expected}"
            self.summary.rows_unreadable += 1
            line_id = ((raw.cells or {}).get("line_id") or "").strip()
            findings.append(
                Finding(
                    RULES["row-unreadable"],
                    claim_id,
                    line_id,
                    raw.number,
                    f"row {raw.number} unreadable: {problem}; fix it and check again",
                )
            )
        for row in rows:
            findings += self._check_line(row)
        services: dict[tuple[str, object], list[ClaimRow]] = {}
        for row in rows:
            services.setdefault((row.code, row.date_of_service), []).append(row)
        for service in services.values():
            findings += self._check_service(service)
        findings.sort(key=lambda f: f.row)
        self.summary.rows += count
        self.summary.claims += 1
        self.summary.count(findings)
        first = rows[0] if rows else None
        return ClaimResult(
            claim_id,
            count,
            first.patient_id if first else "",
            first.payer if first else "",
            tuple(findings),
        )

    # -- line checks -------------------------------------------------------

    def _check_line(self, row: ClaimRow) -> list[Finding]:
        out: list[Finding] = []

        def found(rule: str, message: str) -> None:
            out.append(Finding(RULES[rule], row.claim_id, row.line_id, row.row, message))

        code = self._code(row, found)
        payer = self._payer(row, found)
        modifiers = set(row.modifiers)
        if {"JW", "JZ"} <= modifiers:
            found(
                "jw-jz-same-line",
                "JW and JZ on one line: JW bills a discard, JZ says there "
                "was none; keep the one that is true",
            )
        if payer is not None:
            self._check_payer_rules(row, payer, code, modifiers, found)
        if row.ndc and code is not None:
            self._check_ndc_quantity(row, code, found)
        if row.ndc:
            if not self._valid_ndc(row.ndc):
                found(
                    "ndc-invalid",
                    "the NDC on this line is not 4-4-2, 5-3-2, 5-4-1 or 11 digits: "
                    "copy it from the vial's label",
                )
            elif code is not None:
                self._check_ndc_product(row, code, found)
        else:
            found("ndc-missing", "no NDC: payers that require NDCs on drug lines will deny it")
        if code is not None:
            indicated, drug = self._indicated(code)
            undotted = [d.replace(".", "").upper() for d in row.diagnosis_codes]
            if indicated and not any(
                d.startswith(i.replace(".", "")) for d in undotted for i in indicated
            ):
                diagnoses = ", ".join(row.diagnosis_codes) or "none"
                found(
                    "missing-indicated-diagnosis",
                    f"{row.code} ({drug}) is indicated for {', '.join(indicated)}; the "
                    f"diagnoses ({diagnoses}) include none of them: add the one documented",
                )
        if "76" not in modifiers and "59" not in modifiers:
            key = hash(
                (
                    row.patient_id,
                    row.code,
                    row.date_of_service,
                    self._ndc_key(row.ndc),
                    tuple(sorted(modifiers - {"KX"})),
                )
            )
            if key in self._seen:
                found(
                    "duplicate-line",
                    f"patient {row.patient_id}, {row.code} on "
                    f"{row.date_of_service.isoformat()} is already billed on an earlier line "
                    "with the same NDC and modifiers: remove it, or mark a true repeat with 76",
                )
            else:
                self._seen.add(key)
        return out

    def _check_payer_rules(
        self,
        row: ClaimRow,
        payer: PayerProfile,
        code: BillingCode | None,
        modifiers: set[str],
        found: Found,
    ) -> None:
        deadline = payer.filing_deadline(row.date_of_service)
        if row.submission_date < row.date_of_service:
            found(
                "submission-before-service",
                f"submitted {row.submission_date.isoformat()}, "
                f"before the date of service {row.date_of_service.isoformat()}",
            )
        elif row.submission_date > deadline:
            found(
                "late-filing",
                f"submitted {row.submission_date.isoformat()}, after "
                f"{deadline.isoformat()}: {payer.name} allows {payer.filing_window} from the "
                "date of service (to the next workday): the claim will be denied",
            )
        if payer.kx_required and "KX" not in modifiers:
            found(
                "kx-missing",
                f"{payer.name} requires KX on {row.code}: add it once the "
                f"documentation ({', '.join(payer.kx_documentation) or 'coverage criteria'}) "
                "is on file",
            )
        if "KX" in modifiers:
            lacking = [name for name in payer.kx_documentation if not getattr(row, name)]
            if lacking:
                found(
                    "kx-undocumented",
                    f"KX says the coverage criteria are documented, but "
                    f"{', '.join(lacking)} is empty: document it or remove KX",
                )
        limit = payer.unit_limit(row.code)
        if limit is not None and row.units > limit:
            found(
                "unit-limit-exceeded",
                f"{counted(row.units, 'unit')} on one line; {payer.name} allows "
                f"{limit:,} for {row.code}: split into lines of at most {limit:,}, the repeats "
                "with modifier 76",
            )
        if payer.prior_authorization and not row.prior_authorization:
            found(
                "missing-prior-authorization",
                f"{payer.name} requires prior authorization: add the authorization number",
            )
        if code is not None and code.product in payer.step_therapy:
            required = payer.step_therapy[code.product]
            if not set(required) & set(row.prior_products):
                found(
                    "step-therapy-unmet",
                    f"{payer.name} covers {code.product} after one of "
                    f"{', '.join(required)}; prior products on file: "
                    f"{', '.join(row.prior_products) or 'none'}",
                )
        if payer.network_sites and row.site not in payer.network_sites:
            found(
                "out-of-network",
                f"site {row.site or '(none)'} is not in {payer.name}'s "
                f"network ({', '.join(sorted(payer.network_sites))})",
            )
        needs_340b = row.acquired_340b or payer.all_claims_340b
        if needs_340b and payer.modifier_340b and payer.modifier_340b not in modifiers:
            found(
                "340b-modifier-missing",
                f"the drug is 340B-acquired: {payer.name} requires modifier "
                f"{payer.modifier_340b} on every line of it",
            )
        marked = sorted({"TB", "JG"} & modifiers)
        if marked and not needs_340b:
            found(
                "340b-modifier-unexpected",
                f"{'/'.join(marked)} says the drug was acquired under 340B, but the line's "
                "340b column says no: correct one of them",
            )
        if ({"JW", "JZ"} & modifiers) and not payer.uses_jw_jz(row.setting):
            found(
                "jw-jz-not-used",
                f"{payer.name} does not use JW/JZ for {row.setting} drugs: remove the modifier",
            )

    # -- service checks (one code on one date of one claim) ---------------

    def _check_service(self, rows: list[ClaimRow]) -> list[Finding]:
        out: list[Finding] = []
        head = rows[0]

        def found(rule: str, message: str, row: ClaimRow = head, severity: str = "") -> None:
            out.append(Finding(RULES[rule], row.claim_id, row.line_id, row.row, message, severity))

        code = self._code(head, None)
        payer = self._payer(head, None)
        if code is None:
            return out
        mue = payer.date_mue(code.code) if payer is not None else None
        if mue is not None and payer is not None:
            total = sum(r.units for r in rows)
            if mue.units == 0:
                found(
                    "mue-exceeded",
                    f"CMS lists an MUE of 0 for {code.code}: {payer.name} does not pay it",
                )
            elif total > mue.units:
                found(
                    "mue-exceeded",
                    f"{total:,} units of {code.code} on {head.date_of_service.isoformat()}, "
                    f"above its MUE of {mue.units:,} per date of service (MAI {mue.mai}): "
                    f"{payer.name} denies the excess; bill what the record supports",
                )
        unit = code.unit_amount
        if any({"JW", "JZ"} <= set(r.modifiers) for r in rows):
            self._check_dose(head, payer, code, found)
            return out  # the modifiers contradict each other (jw-jz-same-line): no units piled on
        jw_rows = [r for r in rows if "JW" in r.modifiers]
        given_rows = [r for r in rows if "JW" not in r.modifiers]
        billed = sum(r.units for r in given_rows)
        administered = head.administered_amount
        self._check_dose(head, payer, code, found)
        if administered is None or administered <= 0:
            found(
                "dose-not-justified",
                f"no administered amount documented: the {billed} "
                f"billed units of {code.code} cannot be checked; document it",
            )
            return out
        discarded = head.discarded_amount or Fraction(0)
        dispensed = administered + discarded
        # docs/billing.md s.3: the administered amount where the provider gives the
        # drug; the whole dispensed content where it is dispensed for home use
        dispensed_setting = head.setting == "dispensed"
        amount_billed = dispensed if dispensed_setting else administered
        what = "dispensed" if dispensed_setting else "administered"
        expected = ceil_div(amount_billed, unit)
        if billed != expected:
            amount = f"{_plain(amount_billed)} {code.unit}"
            # a quantity counted per 1 IU (or mcg, mg) of the billed, ordered or dispensed
            # amount, billed under a code whose unit is larger (docs/billing.md s.1, s.7)
            per_one = {
                math.ceil(value): label
                for value, label in (
                    (dispensed, "dispensed"),
                    (head.ordered_amount, "ordered"),
                    (amount_billed, what),
                )
                if value is not None and value > 0
            }
            if unit != 1 and billed in per_one:
                table = self._table(self._reading_set(head))
                others = [
                    c.code
                    for c in (table.equivalents(code.code) if table is not None else [])
                    if c.unit_amount == 1
                ]
                other = f" (that is {others[0]}'s 1-{code.unit} unit)" if others else ""
                found(
                    "units-in-wrong-code-unit",
                    f"{billed:,} units is the {per_one[billed]} amount counted per 1 "
                    f"{code.unit}{other}; {code.code} bills per {code.unit_label}, so that is "
                    f"about {_plain(unit)}x too many units: bill {expected} ({amount} {what})",
                )
            else:
                found(
                    "units-mismatch",
                    f"{billed:,} units billed, but {amount} {what} is "
                    f"{expected} units of {code.unit_label} (rounded up): bill {expected}",
                )
        # whole units left after the billed ones: none when the dispensed content is billed
        supported = 0 if dispensed_setting else floor_div(dispensed - expected * unit, unit)
        modifiers = {m for r in rows for m in r.modifiers}
        if jw_rows:
            if not head.discard_documented or discarded <= 0:
                found(
                    "jw-undocumented",
                    "JW bills a discard, but no discarded amount is "
                    "documented: document the discard (amount, reason) or remove the line",
                    jw_rows[0],
                )
            jw_units = sum(r.units for r in jw_rows)
            if jw_units > max(supported, 0):
                found(
                    "jw-exceeds-discard",
                    f"JW bills {jw_units} units, but "
                    f"{_plain(dispensed)} {code.unit} dispensed less the {expected:,} units "
                    f"given leaves {_units(max(supported, 0))}: bill at most "
                    f"{max(supported, 0):,}"
                    + (" (drop the JW line and use JZ)" if supported < 1 else ""),
                    jw_rows[0],
                )
            if "JZ" in modifiers and not any({"JW", "JZ"} <= set(r.modifiers) for r in rows):
                found(
                    "jw-jz-conflict",
                    "one line says JZ (nothing discarded), another bills "
                    "a discard with JW: keep the one that is true",
                )
        elif "JZ" in modifiers and supported >= 1:  # JZ attests no billable discard
            found(
                "jz-with-billable-discard",
                f"JZ says nothing billable was discarded, but "
                f"{_plain(discarded)} {code.unit} discarded leaves {_units(supported)}: "
                f"bill them on a JW line and drop JZ",
            )
        if payer is not None and payer.uses_jw_jz(head.setting) and not {"JW", "JZ"} & modifiers:
            found(
                "jw-jz-missing",
                f"{payer.name} requires JW or JZ on single-dose drugs "
                f"{head.setting}: add JZ if nothing billable was discarded, else a JW line",
            )
        return out

    def _check_dose(
        self, head: ClaimRow, payer: PayerProfile | None, code: BillingCode, found: Found
    ) -> None:
        ordered = head.ordered_amount
        if head.weight_kg is None or ordered is None:
            missing = " and ".join(
                name
                for name, value in (("weight_kg", head.weight_kg), ("ordered_amount", ordered))
                if value is None
            )
            found(
                "dose-not-justified",
                f"{missing} not documented: the dose cannot be justified by weight and calculation",
            )
            return
        per_kg = head.dose_per_kg
        product = None if per_kg is None else head.weight_kg * per_kg
        if per_kg is not None and product is not None and product != ordered:
            tolerance = payer.dispensing_tolerance if payer is not None else Tolerance()
            low, high = tolerance.window(product)
            if low <= ordered <= high:  # the prescriber rounded the dose: accepted
                pct = float((ordered - product) / product * 100)
                found(
                    "dose-rounded",
                    f"{_plain(head.weight_kg)} kg x {_plain(per_kg)} {code.unit}/kg is "
                    f"{_plain(product)} {code.unit}; {_plain(ordered)} ordered ({pct:+.2f}%) is "
                    f"within the dispensing tolerance ({tolerance}): accepted as the "
                    "prescriber's rounding",
                )
            else:
                found(
                    "dose-calculation-mismatch",
                    f"{_plain(head.weight_kg)} kg x "
                    f"{_plain(per_kg)} {code.unit}/kg is {_plain(product)} {code.unit}, "
                    f"not the {_plain(ordered)} {code.unit} ordered: correct the order or the "
                    "weight",
                )
        given = head.administered_amount
        if payer is not None and given is not None and ordered > 0:
            low, high = payer.dispensing_tolerance.window(ordered)
            if not low <= given <= high:
                pct = float((given - ordered) / ordered * 100)
                found(
                    "dose-outside-tolerance",
                    f"{_plain(given)} {code.unit} given is "
                    f"{pct:+.1f}% from the {_plain(ordered)} ordered; {payer.name} accepts "
                    f"{payer.dispensing_tolerance}",
                    severity="error" if payer.enforce_tolerance else "",
                )

    # -- look-ups, cached --------------------------------------------------

    def _code(self, row: ClaimRow, found: Found | None) -> BillingCode | None:
        """The line's code as its payer reads it (docs/billing.md section 1): by the
        payer's code set, which must give the code the product the line's own set
        names; an empty ``code_set`` column means the payer's set, else the default."""
        payer = self._payer(row, None)
        theirs = payer.code_set if payer is not None else None
        name = row.code_set or theirs or DEFAULT_CODE_SET
        table = self._table(name)
        code = table.get(row.code) if table is not None else None
        if code is None:
            if found is not None:
                where = f"code set {name!r}" if table is not None else f"unknown code set {name!r}"
                found("unknown-code", f"{row.code} is not in {where}: check the code")
            return None
        if payer is None or theirs is None or theirs == name:
            return code
        payers_table = self._table(theirs)
        read = payers_table.get(row.code) if payers_table is not None else None
        if read is not None and read.product == code.product and read.unit == code.unit:
            return read
        if found is not None and payers_table is not None:
            as_read = f"{read.descriptor} per {read.unit_label}" if read else "no code it knows"
            right = [c for c in payers_table if c.product == code.product]
            hint = (
                f"{code.product} is {right[0].code} there, per {right[0].unit_label}: bill that"
                if right
                else f"{code.product} has no code in code set {theirs}"
            )
            found(
                "code-read-as-other-product",
                f"{row.code} under {payer.name} (code set {theirs}) is {as_read}, not "
                f"{code.product} per {code.unit_label} as code set {name} reads it; {hint}",
            )
        return None

    def _check_ndc_quantity(self, row: ClaimRow, code: BillingCode, found: Found) -> None:
        """The N4 quantity and its qualifier (docs/billing.md section 6)."""
        if row.ndc_quantity is None or not row.ndc_unit:
            found(
                "ndc-quantity-missing",
                "an NDC without its quantity and unit qualifier (ndc_quantity, ndc_unit): "
                "payers that read the N4 segment deny the line",
            )
            return
        fits = {"F2": code.unit == "IU", "ME": code.unit in ("mg", "mcg"), "GR": code.unit == "mg"}
        if not fits.get(row.ndc_unit, True) or row.ndc_quantity <= 0:
            found(
                "ndc-unit-mismatch",
                f"NDC quantity {row.ndc_unit}{_plain(row.ndc_quantity)} does not fit "
                f"{row.code}, billed in {code.unit}: F2 is international units, ME "
                "milligrams, UN vials, ML millilitres, and the quantity is above 0",
            )

    def _check_ndc_product(self, row: ClaimRow, code: BillingCode, found: Found) -> None:
        """The NDC must be a product the code bills (docs/billing.md section 8): by the
        crosswalk when it lists the NDC, else by the catalog."""
        ndc = normalize_ndc(row.ndc)
        linked = self.crosswalk.codes.get(ndc) if self.crosswalk is not None else None
        if linked is not None:
            theirs = load_code_set("cms").get(linked)
            if theirs is not None and (theirs.product, theirs.unit) != (code.product, code.unit):
                found(
                    "ndc-code-mismatch",
                    f"the crosswalk bills NDC {ndc} under {linked} ({theirs.descriptor}), not "
                    f"{row.code}: bill it under {linked}, or correct the NDC",
                )
            return
        product = self.catalog.by_ndc(ndc)
        if product is not None and not product.billed_under(code):
            codes = "/".join(product.codes.get("cms", ())) or "another code"
            found(
                "ndc-code-mismatch",
                f"NDC {ndc} is {product.name} ({codes}), which {row.code} does not bill: "
                "bill the product's code, or correct the NDC",
            )

    def _indicated(self, code: BillingCode) -> tuple[tuple[str, ...], str]:
        """The diagnoses that support ``code``, from the labels of the products it
        bills (else by factor), and the drug in words."""
        key = f"{code.product}|{code.unit}"
        if key not in self._indications:
            products = self.catalog.for_code(code)
            if products:
                indicated = tuple(dict.fromkeys(d for p in products for d in p.diagnoses))
                drug = "/".join(p.name for p in products[:3]) + (
                    "/..." if len(products) > 3 else ""
                )
            else:
                indicated = FACTOR_DIAGNOSES.get(code.factor, ())
                drug = f"Factor {code.factor}" if code.factor else code.product
            self._indications[key] = (indicated, drug)
        return self._indications[key]

    def _reading_set(self, row: ClaimRow) -> str:
        """The code set a line's code is read by: its payer's, else its own column's,
        else the default."""
        payer = self._payer(row, None)
        return (payer.code_set if payer is not None else None) or row.code_set or DEFAULT_CODE_SET

    def _table(self, name: str) -> CodeSet | None:
        if name not in self._code_sets:
            try:
                self._code_sets[name] = load_code_set(name, base_dir=self.base_dir)
            except DosingError:
                self._code_sets[name] = None
        return self._code_sets[name]

    def _payer(self, row: ClaimRow, found: Found | None) -> PayerProfile | None:
        if self.payer_override is not None:
            return self.payer_override
        if row.payer not in self._payers:
            try:
                self._payers[row.payer] = self._with_mue(
                    load_payer(row.payer, base_dir=self.base_dir)
                )
            except DosingError:
                self._payers[row.payer] = None
        payer = self._payers[row.payer]
        if payer is None and found is not None:
            found(
                "unknown-payer",
                f"no payer profile {row.payer!r}: use a shipped profile or "
                "a TOML path, or pass --payer",
            )
        return payer

    def _with_mue(self, payer: PayerProfile) -> PayerProfile:
        return payer.with_mue(self.mue) if self.mue else payer

    def _ndc_key(self, text: str) -> str:
        """The NDC as the duplicate check compares it: 11 digits when it is valid
        (0026-3954-10 and 00026395410 are one NDC), else as written."""
        return normalize_ndc(text) if text and self._valid_ndc(text) else text

    def _valid_ndc(self, text: str) -> bool:
        if text not in self._ndcs:
            try:
                normalize_ndc(text)
                self._ndcs[text] = True
            except InputError:
                self._ndcs[text] = False
        return self._ndcs[text]


def _units(count: int) -> str:
    return f"{count:,} whole unit{'s' * (count != 1)}"


def _plain(value: Fraction) -> str:
    if value.denominator == 1:
        return f"{value.numerator:,}"
    return f"{float(value):,.4f}".rstrip("0").rstrip(".")
