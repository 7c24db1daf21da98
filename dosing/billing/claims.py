"""Claim lines: code, modifiers, units and NDC (docs/billing.md sections 2, 3 and 6).

Rules, in the order they are applied:

* Section 2: the billed amount over the code's unit amount, rounded **up**;
  at least one unit.
* Section 3, setting ``administered``: the first line bills the administered
  amount rounded up.  What remains of the dispensed content after those
  rounded-up units, in whole units rounded **down**, is billed on a second
  line with JW when it is at least one unit; otherwise JZ is appended to the
  administered line(s).  So the lines never bill more than the dispensed
  content supports: together they are at most ``ceil(dispensed / unit)``.
  Setting ``dispensed`` (self-administration at home) bills the dispensed
  amount with neither modifier.
* Section 6: one administered line per NDC when the vials come from several;
  the units of the whole are shared out in proportion to the amount each NDC
  gives, by largest remainder (ties to the NDC used first), so the lines add
  up to exactly the units of the whole.  An NDC whose share rounds to no
  unit gets no line (its amount is billed within the others).  The JW line
  carries the NDC of the vial the dose was drawn from last (the opened one).
* Section 3, payer policy: where a payer uses JW/JZ for drugs dispensed for
  self-administration, the dispensed line carries JZ (the provider discarded
  nothing); where a payer does not use them, neither appears.
* Section 6, payer rules: KX on every line when the payer requires it and the
  order documents it; a line above the payer's per-line unit limit is split
  into lines of at most the limit, the repeats with modifier 76.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from fractions import Fraction

from dosing.billing.codesets import BillingCode
from dosing.billing.units import units_for
from optimizer.numbers import floor_div

__all__ = ["ClaimLine", "NdcAmount", "Setting", "apportion", "claim_lines"]


class Setting(StrEnum):
    """Where the drug goes: JW/JZ apply only when administered (docs/billing.md section 3)."""

    ADMINISTERED = "administered"
    DISPENSED = "dispensed"


@dataclass(frozen=True)
class ClaimLine:
    """One line of the claim."""

    code: str
    modifiers: tuple[str, ...]
    units: int
    ndc: str | None

    def __post_init__(self) -> None:
        if self.units < 1:
            raise ValueError(f"`units` must be >= 1 on a claim line (got {self.units})")

    def to_dict(self) -> dict[str, object]:
        return {
            "code": self.code,
            "modifiers": list(self.modifiers),
            "units": self.units,
            "ndc": self.ndc,
        }


@dataclass(frozen=True)
class NdcAmount:
    """How much of the dose came from one NDC, in the order the vials are used."""

    ndc: str | None
    dispensed: Fraction
    administered: Fraction


def claim_lines(
    code: BillingCode,
    sources: Sequence[NdcAmount],
    setting: Setting,
    *,
    jw_jz: bool | None = None,
    kx: bool = False,
    unit_limit: int | None = None,
) -> tuple[ClaimLine, ...]:
    """The claim lines for a dose drawn from ``sources`` (see the module docstring).

    ``jw_jz``: whether the payer uses JW/JZ in this setting (default: only when
    administered).  ``kx`` appends KX to every line.  ``unit_limit`` splits any
    line above it, the repeats carrying modifier 76 (docs/billing.md section 6).
    """
    if jw_jz is None:
        jw_jz = setting is Setting.ADMINISTERED
    administered_setting = setting is Setting.ADMINISTERED
    billed = [s.administered if administered_setting else s.dispensed for s in sources]
    units = units_for(sum(billed, Fraction(0)), code)
    dispensed = sum((s.dispensed for s in sources), Fraction(0))
    leftover = 0
    if jw_jz and administered_setting:
        leftover = floor_div(dispensed - units * code.unit_amount, code.unit_amount)
    modifiers: tuple[str, ...] = ("JZ",) if jw_jz and leftover < 1 else ()
    extra = ("KX",) if kx else ()
    lines = [
        ClaimLine(code.code, modifiers + extra, n, s.ndc)
        for s, n in zip(sources, apportion(units, billed), strict=True)
        if n
    ]
    if leftover >= 1:
        opened = next(s for s in reversed(sources) if s.dispensed > s.administered)
        lines.append(ClaimLine(code.code, ("JW", *extra), leftover, opened.ndc))
    return tuple(split for line in lines for split in _split(line, unit_limit))


def _split(line: ClaimLine, limit: int | None) -> list[ClaimLine]:
    """A line over the payer's per-line unit limit as several lines, repeats with 76."""
    if limit is None or line.units <= limit:
        return [line]
    full, rest = divmod(line.units, limit)
    sizes = [limit] * full + ([rest] if rest else [])
    return [
        ClaimLine(line.code, line.modifiers + (("76",) if i else ()), size, line.ndc)
        for i, size in enumerate(sizes)
    ]


def apportion(total: int, weights: Sequence[Fraction]) -> list[int]:
    """Share ``total`` whole units in proportion to ``weights`` by largest remainder.

    The shares add up to ``total`` exactly; ties go to the earlier weight.

    >>> apportion(15, [Fraction(2060), Fraction(1650)])
    [8, 7]
    """
    whole = sum(weights, Fraction(0))
    if whole <= 0:
        raise ValueError("apportion needs a positive total weight")
    quotas = [total * w / whole for w in weights]
    shares = [math.floor(q) for q in quotas]
    by_remainder = sorted(range(len(weights)), key=lambda i: (-(quotas[i] - shares[i]), i))
    for i in by_remainder[: total - sum(shares)]:
        shares[i] += 1
    return shares
