"""Pre-submission audit: the claims file, the rules, and the checker that applies them.

:class:`Checker` streams a claims CSV (:mod:`dosing.audit.claimfile`) claim by
claim and reports each denial a payer would raise, as a :class:`Finding` of
one of the :data:`RULES` (docs/billing.md gives each rule's source).
"""

from dosing.audit.checker import Checker
from dosing.audit.claimfile import CLAIM_COLUMNS, REQUIRED_CLAIM_COLUMNS, ClaimRow, rows_from_plan
from dosing.audit.rules import RULES, ClaimResult, Finding, Rule, Summary

__all__ = [
    "CLAIM_COLUMNS",
    "REQUIRED_CLAIM_COLUMNS",
    "RULES",
    "Checker",
    "ClaimResult",
    "ClaimRow",
    "Finding",
    "Rule",
    "Summary",
    "rows_from_plan",
]
