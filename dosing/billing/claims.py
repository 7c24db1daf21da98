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
* Section 6, multiple NDCs: the payer's ``multi_ndc`` policy, ``line_per_ndc``
  (above) or ``one_line``: one administered line carrying the NDC that gives
  the most, the others listed in its ``narrative`` (item 19 / loop 2400 NTE).
* Section 6, NDC quantity: every line carries the quantity of its NDC that the
  line bills and the N4 unit qualifier: ``F2`` international units, ``ME``
  milligrams, ``UN`` vials (units), ``ML`` millilitres of diluent.  The
  quantity is exact to three decimals; lines split by a unit limit share it
  in proportion to their units.
* Section 9, 340B: the payer's 340B modifier (``TB``) on every line of a drug
  acquired under the 340B program.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from fractions import Fraction

from dosing.billing.codesets import BillingCode
from dosing.billing.units import units_for
from optimizer.numbers import floor_div

__all__ = [
    "MULTI_NDC_POLICIES",
    "NDC_UNITS",
    "ClaimLine",
    "NdcAmount",
    "Setting",
    "apportion",
    "claim_lines",
    "ndc_unit_for",
]

#: How a payer wants one drug from several NDCs on one date (docs/billing.md s.6).
MULTI_NDC_POLICIES = ("line_per_ndc", "one_line")
#: N4 unit qualifiers (837P loop 2410 CTP05): international unit, milligram,
#: unit (a vial), millilitre.
NDC_UNITS = ("F2", "ME", "UN", "ML")
#: The longest narrative on one line: loop 2400 NTE holds 80 characters.
MAX_NARRATIVE = 80


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
    #: the quantity of ``ndc`` this line bills, in ``ndc_unit`` (three decimals)
    ndc_quantity: Decimal | None = None
    ndc_unit: str | None = None
    #: the other NDCs of the service, where the payer wants one line (item 19 / NTE)
    narrative: str = ""

    def __post_init__(self) -> None:
        if self.units < 1:
            raise ValueError(f"`units` must be >= 1 on a claim line (got {self.units})")

    def to_dict(self) -> dict[str, object]:
        return {
            "code": self.code,
            "modifiers": list(self.modifiers),
            "units": self.units,
            "ndc": self.ndc,
            "ndc_quantity": None if self.ndc_quantity is None else float(self.ndc_quantity),
            "ndc_unit": self.ndc_unit,
            "narrative": self.narrative,
        }


@dataclass(frozen=True)
class NdcAmount:
    """How much of the dose came from one NDC, in the order the vials are used."""

    ndc: str | None
    dispensed: Fraction
    administered: Fraction
    #: vials dispensed from this NDC, and each one's diluent volume (mL) if known
    vials: int = 0
    volume_ml: Fraction | None = None

    def quantity(self, amount: Fraction, code: BillingCode, ndc_unit: str) -> Decimal | None:
        """``amount`` of this NDC in ``ndc_unit`` (None where it cannot be told)."""
        if ndc_unit == "F2":
            value: Fraction | None = amount if code.unit == "IU" else None
        elif ndc_unit == "ME":
            value = {"mg": amount, "mcg": amount / 1000}.get(code.unit)
        elif not self.vials or not self.dispensed:
            value = None
        else:
            vials = amount * self.vials / self.dispensed
            if ndc_unit == "UN":
                value = vials
            else:
                value = vials * self.volume_ml if self.volume_ml is not None else None
        return None if value is None else _decimal(value)


def ndc_unit_for(code: BillingCode) -> str:
    """The default N4 qualifier for ``code``'s unit of measure: F2 for IU, ME for
    mg and mcg."""
    return "F2" if code.unit == "IU" else "ME"


def claim_lines(
    code: BillingCode,
    sources: Sequence[NdcAmount],
    setting: Setting,
    *,
    jw_jz: bool | None = None,
    kx: bool = False,
    unit_limit: int | None = None,
    multi_ndc: str = "line_per_ndc",
    ndc_unit: str | None = None,
    modifier_340b: str | None = None,
) -> tuple[ClaimLine, ...]:
    """The claim lines for a dose drawn from ``sources`` (see the module docstring).

    ``jw_jz``: whether the payer uses JW/JZ in this setting (default: only when
    administered).  ``kx`` appends KX to every line.  ``unit_limit`` splits any
    line above it, the repeats carrying modifier 76 (docs/billing.md section 6).
    ``multi_ndc`` is the payer's policy for several NDCs; ``ndc_unit`` the N4
    qualifier (default :func:`ndc_unit_for`); ``modifier_340b`` is appended to
    every line of a drug acquired under 340B.
    """
    if multi_ndc not in MULTI_NDC_POLICIES:
        raise ValueError(f"`multi_ndc` must be one of {', '.join(MULTI_NDC_POLICIES)}")
    qualifier = ndc_unit or ndc_unit_for(code)
    if qualifier not in NDC_UNITS:
        raise ValueError(f"`ndc_unit` must be one of {', '.join(NDC_UNITS)}")
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
    extra = tuple(m for m in ("KX" if kx else "", modifier_340b or "") if m)

    def line(source: NdcAmount, amount: Fraction, n: int, mods: tuple[str, ...]) -> ClaimLine:
        quantity = source.quantity(amount, code, qualifier) if source.ndc else None
        return ClaimLine(
            code.code, mods, n, source.ndc, quantity, qualifier if quantity is not None else None
        )

    def mention(source: NdcAmount, amount: Fraction) -> str:
        quantity = source.quantity(amount, code, qualifier)
        shown = f" {qualifier} {_plain(quantity)}" if quantity is not None else ""
        return f"NDC {source.ndc}{shown}"

    lines: list[ClaimLine] = []
    if multi_ndc == "one_line" and len(sources) > 1:
        main = max(range(len(sources)), key=lambda i: (billed[i], -i))
        others = [
            mention(s, amount)
            for i, (s, amount) in enumerate(zip(sources, billed, strict=True))
            if i != main and s.ndc
        ]
        first = line(sources[main], billed[main], units, modifiers + extra)
        lines.append(replace(first, narrative="; ".join(others)))
    else:
        shares = apportion(units, billed)
        folded = [
            mention(s, amount)
            for s, amount, n in zip(sources, billed, shares, strict=True)
            if not n and s.ndc
        ]
        for s, amount, n in zip(sources, billed, shares, strict=True):
            if n:
                lines.append(line(s, amount, n, modifiers + extra))
        if folded:  # an NDC whose share rounds to no unit is named on the first line
            lines[0] = replace(lines[0], narrative="; ".join(folded))
    if leftover >= 1:
        opened = next(s for s in reversed(sources) if s.dispensed > s.administered)
        lines.append(line(opened, opened.dispensed - opened.administered, leftover, ("JW", *extra)))
    return tuple(split for each in lines for split in _split(each, unit_limit))


def _split(line: ClaimLine, limit: int | None) -> list[ClaimLine]:
    """A line over the payer's per-line unit limit as several lines, repeats with 76;
    the NDC quantity is shared in proportion to the units, adding up exactly."""
    if limit is None or line.units <= limit:
        return [line]
    full, rest = divmod(line.units, limit)
    sizes = [limit] * full + ([rest] if rest else [])
    quantities: list[Decimal | None] = [None] * len(sizes)
    if line.ndc_quantity is not None:
        shares = [_decimal(Fraction(line.ndc_quantity) * size / line.units) for size in sizes]
        shares[-1] = line.ndc_quantity - sum(shares[:-1], Decimal(0))
        quantities = list(shares)
    return [
        replace(
            line,
            modifiers=line.modifiers + (("76",) if i else ()),
            units=size,
            ndc_quantity=quantity,
            narrative=line.narrative if i == 0 else "",
        )
        for i, (size, quantity) in enumerate(zip(sizes, quantities, strict=True))
    ]


def _decimal(value: Fraction) -> Decimal:
    """``value`` to three decimals, half up (an 837 quantity carries three)."""
    exact = Decimal(value.numerator) / Decimal(value.denominator)
    return exact.quantize(Decimal("0.001"), rounding=ROUND_HALF_UP).normalize() + Decimal(0)


def _plain(value: Decimal) -> str:
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


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
