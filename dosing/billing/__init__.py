"""Billing: code sets, billing units, claim lines, NDCs and payer profiles.

Everything a claim line is made of, with the shipped tables in ``data/``
(code sets as CSV, payer profiles as TOML).  The rules and their public
sources are in docs/billing.md; each module cites the section it applies.
"""

from dosing.billing.claims import ClaimLine, NdcAmount, Setting, apportion, claim_lines
from dosing.billing.codesets import (
    DEFAULT_CODE_SET,
    SHIPPED_CODE_SETS,
    BillingCode,
    CodeSet,
    load_code_set,
)
from dosing.billing.ndc import normalize_ndc
from dosing.billing.payers import SHIPPED_PAYERS, PayerProfile, PayerProfileError, load_payer
from dosing.billing.units import billing_units, equivalent_units, resolve_code, units_for

__all__ = [
    "DEFAULT_CODE_SET",
    "SHIPPED_CODE_SETS",
    "SHIPPED_PAYERS",
    "BillingCode",
    "ClaimLine",
    "CodeSet",
    "NdcAmount",
    "PayerProfile",
    "PayerProfileError",
    "Setting",
    "apportion",
    "billing_units",
    "claim_lines",
    "equivalent_units",
    "load_code_set",
    "load_payer",
    "normalize_ndc",
    "resolve_code",
    "units_for",
]
