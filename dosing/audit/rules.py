"""The audit's rules and what it reports: findings per claim, and a summary of the file.

Every rule has a stable id (the JSON's ``id``), a severity, and the section of
docs/billing.md whose rule it enforces.  :class:`Summary` accounts for every
row of the file: checked, or unreadable.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

__all__ = ["RULES", "ClaimResult", "Finding", "Rule", "Summary"]


@dataclass(frozen=True)
class Rule:
    id: str
    severity: str  # error | warning
    section: str  # of docs/billing.md
    title: str


RULES = {
    rule.id: rule
    for rule in (
        Rule("row-unreadable", "error", "7", "a row that cannot be read"),
        Rule("unknown-code", "error", "1", "a code not in the code set"),
        Rule("unknown-payer", "error", "7", "a payer with no profile"),
        Rule(
            "code-read-as-other-product",
            "error",
            "1",
            "the payer's code set reads the code as another product",
        ),
        Rule("units-mismatch", "error", "2", "billed units do not match the administered amount"),
        Rule(
            "units-in-wrong-code-unit",
            "error",
            "1, 2",
            "units counted in another code's unit (per-IU quantity under a 250-IU code)",
        ),
        Rule("dose-not-justified", "error", "5, 7", "weight or ordered amount undocumented"),
        Rule("dose-calculation-mismatch", "error", "5, 7", "weight x dose per kg is not the order"),
        Rule(
            "dose-rounded",
            "warning",
            "4, 5",
            "the order rounds weight x dose per kg within the dispensing tolerance (accepted)",
        ),
        Rule(
            "dose-outside-tolerance",
            "warning",
            "4",
            "administered outside the dispensing tolerance (an error if the profile enforces it)",
        ),
        Rule("jw-undocumented", "error", "3", "JW without a documented discard"),
        Rule("jw-exceeds-discard", "error", "3", "more JW units than the discard supports"),
        Rule("jw-jz-same-line", "error", "3", "JW and JZ on the same line"),
        Rule("jw-jz-conflict", "error", "3", "a JW line and a JZ line for the same service"),
        Rule(
            "jz-with-billable-discard", "error", "3", "JZ although a billable amount was discarded"
        ),
        Rule("jw-jz-missing", "error", "3", "neither JW nor JZ where the payer requires one"),
        Rule("jw-jz-not-used", "warning", "3", "JW/JZ where the payer does not use them"),
        Rule("kx-missing", "error", "6", "KX missing where the payer requires it"),
        Rule("kx-undocumented", "error", "6", "KX without the documentation the payer asks for"),
        Rule("late-filing", "error", "6", "outside the payer's filing window"),
        Rule("submission-before-service", "error", "6", "submitted before the date of service"),
        Rule("duplicate-line", "error", "7", "the same line twice for a patient, code and date"),
        Rule(
            "missing-indicated-diagnosis",
            "error",
            "6, 7, 8",
            "no diagnosis the product's label is indicated for",
        ),
        Rule("ndc-code-mismatch", "error", "6, 8", "the NDC is a product the code does not bill"),
        Rule("missing-prior-authorization", "error", "7", "no prior authorization number"),
        Rule("step-therapy-unmet", "error", "7", "required prior products not tried"),
        Rule("out-of-network", "error", "7", "site outside the payer's network"),
        Rule("unit-limit-exceeded", "error", "6", "more units on a line than the payer allows"),
        Rule(
            "mue-exceeded",
            "error",
            "6",
            "more units of a code on one date of service than its MUE (MAI 2 or 3)",
        ),
        Rule("340b-modifier-missing", "error", "9", "a 340B-acquired drug without the modifier"),
        Rule(
            "340b-modifier-unexpected",
            "warning",
            "9",
            "a 340B modifier on a line not marked 340B",
        ),
        Rule(
            "ndc-quantity-missing",
            "warning",
            "6",
            "an NDC without its quantity and qualifier",
        ),
        Rule("ndc-unit-mismatch", "error", "6", "an NDC qualifier that does not fit the code"),
        Rule("ndc-invalid", "error", "6", "an NDC in no valid form"),
        Rule("ndc-missing", "warning", "6", "no NDC on the line"),
    )
}


@dataclass(frozen=True)
class Finding:
    """One problem on one line (``row`` is its line number in the file)."""

    rule: Rule
    claim_id: str
    line_id: str
    row: int
    message: str
    #: the rule's own, unless the payer's profile makes it stricter
    severity: str = ""

    def __post_init__(self) -> None:
        if not self.severity:
            object.__setattr__(self, "severity", self.rule.severity)

    def to_dict(self) -> dict[str, object]:
        return {
            "type": "finding",
            "id": self.rule.id,
            "severity": self.severity,
            "section": self.rule.section,
            "claim_id": self.claim_id,
            "line_id": self.line_id,
            "row": self.row,
            "message": self.message,
        }


@dataclass(frozen=True)
class ClaimResult:
    """The findings of one claim (a run of consecutive rows with one claim id)."""

    claim_id: str
    rows: int
    patient_id: str
    payer: str
    findings: tuple[Finding, ...]


@dataclass
class Summary:
    """Counts over the whole file: every row is checked or unreadable."""

    rows: int = 0
    rows_unreadable: int = 0
    claims: int = 0
    claims_with_errors: int = 0
    by_id: Counter[str] = field(default_factory=Counter)
    errors: int = 0
    warnings: int = 0

    def count(self, findings: Sequence[Finding]) -> None:
        """Add one claim's findings."""
        self.by_id.update(f.rule.id for f in findings)
        errors = sum(f.severity == "error" for f in findings)
        self.errors += errors
        self.warnings += len(findings) - errors
        self.claims_with_errors += bool(errors)

    def to_dict(self) -> dict[str, object]:
        return {
            "type": "summary",
            "rows": self.rows,
            "rows_checked": self.rows - self.rows_unreadable,
            "rows_unreadable": self.rows_unreadable,
            "claims": self.claims,
            "claims_with_errors": self.claims_with_errors,
            "errors": self.errors,
            "warnings": self.warnings,
            "by_id": dict(sorted(self.by_id.items())),
        }
