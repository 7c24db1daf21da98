"""The selection problem, stated once and scaled to integers exactly.

Both engines (:mod:`optimizer.exact` and :mod:`optimizer.cpsat`) and the
brute-force reference (:mod:`optimizer.brute`) solve a :class:`Problem`:
integer vial amounts, integer counts, an integer window and a rational
target, so that no engine ever compares floats.

Scaling: every amount is multiplied by the least common denominator ``D`` of
the lot amounts (a decimal potency of 1,062.5 IU makes ``D`` = 2) and then
divided by the greatest common divisor ``g`` of the scaled amounts, which
shrinks the range the engines work over (amounts of 500, 1,000 and 1,500 IU
become 1, 2 and 3).  The target and the window are scaled the same way and
stay exact: the window's ends are rounded inwards to reachable integers.

The rule (docs/design.md "Selection rules"), with ``r`` the resolution (a
percentage of the order, :attr:`Problem.resolution` scaled like the amounts):

whole_vials
    ``d`` the least ``|total - target|`` in the window; among the selections
    with ``|total - target| <= d + r`` (the near-closest), smallest
    ``(vials, |total - target|, total < target, expiry cost)``
exact_dose
    ``w`` the least ``total - target`` over totals >= target; among those with
    ``total - target <= w + r`` (the near-least discards), smallest
    ``(vials, total - target, expiry cost)``

With ``r = 0`` this is closeness first, then vials: the rule before the
resolution existed.  The near sets are bounds on the total
(:meth:`Problem.near_whole`, :meth:`Problem.near_exact`), exact in integers.

The expiry cost of a selection is the sum, over its vials, of the rank of the
vial's lot when lots are ordered by expiry (earliest 0; equal dates share a
rank; lots without a date come last).  Smaller means earlier-expiring stock
is used first (docs/billing.md section 4).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from fractions import Fraction

from optimizer.errors import FieldError
from optimizer.inventory import Lot
from optimizer.numbers import as_fraction

__all__ = ["Mode", "Problem", "Tolerance", "closeness_rank", "expiry_ranks"]


class Mode(StrEnum):
    """How the dose is made up (docs/design.md "Selection rules")."""

    WHOLE_VIALS = "whole_vials"
    EXACT_DOSE = "exact_dose"
    AUTO = "auto"


@dataclass(frozen=True)
class Tolerance:
    """How far below and above the order the dispensed total may land, in percent."""

    under_pct: Fraction = Fraction(10)
    over_pct: Fraction = Fraction(10)

    def __post_init__(self) -> None:
        under = as_fraction(self.under_pct, "tolerance.under_pct")
        over = as_fraction(self.over_pct, "tolerance.over_pct")
        if not 0 <= under < 100:
            raise FieldError("tolerance.under_pct", "a percentage >= 0 and < 100", under)
        if not 0 <= over <= 1000:
            raise FieldError("tolerance.over_pct", "a percentage >= 0 and <= 1000", over)
        object.__setattr__(self, "under_pct", under)
        object.__setattr__(self, "over_pct", over)

    @classmethod
    def symmetric(cls, pct: object) -> Tolerance:
        value = as_fraction(pct, "tolerance_pct")
        if not 0 <= value < 100:
            raise FieldError("tolerance_pct", "a percentage >= 0 and < 100", value)
        return cls(value, value)

    def window(self, target: Fraction) -> tuple[Fraction, Fraction]:
        """The lowest and highest acceptable totals for ``target``."""
        return (target * (1 - self.under_pct / 100), target * (1 + self.over_pct / 100))

    def __str__(self) -> str:
        def pct(value: Fraction) -> str:
            return f"{float(value):g}%"

        if self.under_pct == self.over_pct:
            return f"±{pct(self.under_pct)}"
        return f"-{pct(self.under_pct)} / +{pct(self.over_pct)}"


@dataclass(frozen=True)
class Problem:
    """One dose, scaled to integers.  Build it with :meth:`build`."""

    lots: tuple[Lot, ...]  # only the usable ones, in the caller's order
    amounts: tuple[int, ...]  # scaled vial amounts
    counts: tuple[int, ...]
    ranks: tuple[int, ...]  # expiry rank of each lot
    scale: Fraction  # original amount = scaled amount x scale
    target: Fraction  # scaled, exact
    low: int  # whole_vials window, scaled and rounded inwards
    high: int
    max_vials: int | None
    #: the resolution r, scaled: differences up to it count as equally close
    resolution: Fraction = Fraction(0)

    @classmethod
    def build(
        cls,
        target: Fraction,
        lots: Sequence[Lot],
        tolerance: Tolerance,
        max_vials: int | None,
        resolution_pct: Fraction = Fraction(0),
    ) -> Problem:
        usable = tuple(lot for lot in lots if lot.count > 0)
        denominator = math.lcm(*(lot.amount.denominator for lot in usable)) if usable else 1
        integers = [int(lot.amount * denominator) for lot in usable]
        divisor = math.gcd(*integers) if integers else 1
        scale = Fraction(divisor, denominator)
        scaled_target = target / scale
        low, high = tolerance.window(scaled_target)
        return cls(
            lots=usable,
            amounts=tuple(a // divisor for a in integers),
            counts=tuple(lot.count for lot in usable),
            ranks=expiry_ranks(usable),
            scale=scale,
            target=scaled_target,
            low=math.ceil(low),
            high=math.floor(high),
            max_vials=max_vials,
            resolution=scaled_target * Fraction(resolution_pct) / 100,
        )

    def retarget(
        self,
        target: Fraction,
        tolerance: Tolerance,
        max_vials: int | None,
        resolution_pct: Fraction = Fraction(0),
    ) -> Problem:
        """The same shelf for another dose: only what depends on the target changes
        (many doses of a supply share a shelf; scaling it again for each is waste)."""
        scaled_target = target / self.scale
        low, high = tolerance.window(scaled_target)
        return dataclasses.replace(
            self,
            target=scaled_target,
            low=math.ceil(low),
            high=math.floor(high),
            max_vials=max_vials,
            resolution=scaled_target * Fraction(resolution_pct) / 100,
        )

    def near_whole(self, closest: int) -> tuple[int, int]:
        """The totals as near the target as ``closest`` (a total of least deviation)
        give or take the resolution: the whole_vials near-closest set, as bounds."""
        reach = abs(closest - self.target) + self.resolution
        low = max(math.ceil(self.target - reach), self.low)
        return low, min(math.floor(self.target + reach), self.high)

    def near_exact(self, least: int) -> int:
        """The largest total whose discard is within the resolution of the least
        discard (``least`` is the smallest total covering the dose)."""
        return math.floor(least + self.resolution)

    @property
    def vial_limit(self) -> int:
        """The most vials any selection may use."""
        stock = sum(self.counts)
        return stock if self.max_vials is None else min(stock, self.max_vials)

    @property
    def exact_floor(self) -> int:
        """The smallest integer total that covers the target (exact_dose)."""
        return math.ceil(self.target)

    def closeness(self, total: int) -> tuple[int, int]:
        """``(rank, under)`` of an integer total against the rational target.

        Ranks are small integers that order totals as ``|total - target|`` does,
        and are equal exactly where it is, whatever the target's denominator
        (a weight converted from pounds has fifteen decimals): with ``f`` the
        target's floor and ``r`` its fraction, a total ``k`` below ``f`` is
        ``k + r`` away and one ``k`` above ``f + 1`` is ``k + 1 - r`` away, so
        the two sides interleave by whether ``r`` is below, at or above 1/2.
        ``under`` is 1 when the total is below the target.
        """
        return closeness_rank(total, self.target)

    def whole_key(self, total: int, vials: int, expiry: int) -> tuple[int, Fraction, int, int]:
        """The whole_vials order among near-closest selections, smallest best."""
        return (vials, abs(total - self.target), int(total < self.target), expiry)

    def exact_key(self, total: int, vials: int, expiry: int) -> tuple[int, Fraction, int]:
        """The exact_dose order among near-least discards (total >= target)."""
        return (vials, total - self.target, expiry)

    def expiry_cost(self, counts: Sequence[int]) -> int:
        return sum(r * c for r, c in zip(self.ranks, counts, strict=True))

    def total(self, counts: Sequence[int]) -> int:
        return sum(a * c for a, c in zip(self.amounts, counts, strict=True))


def closeness_rank(total: int, target: Fraction) -> tuple[int, int]:
    """See :meth:`Problem.closeness`; also used by the engines on arrays of totals."""
    floor = target.numerator // target.denominator
    twice_fraction = 2 * (target - floor)  # 2r, in [0, 2)
    d = total - floor
    if twice_fraction == 0:  # a whole target: the distance is |d|
        return 2 * abs(d), int(d < 0)
    over = d >= 1
    k = d - 1 if over else -d
    if twice_fraction < 1:  # r < 1/2: below is nearer at the same k
        return 2 * k + int(over), int(not over)
    if twice_fraction == 1:  # r = 1/2: the two sides tie
        return 2 * k, int(not over)
    return 2 * k + int(not over), int(not over)


def expiry_ranks(lots: Sequence[Lot]) -> tuple[int, ...]:
    """Dense rank of each lot's expiry date, earliest 0; no date ranks last."""
    dates = sorted({lot.expires for lot in lots if lot.expires is not None})
    rank = {date: index for index, date in enumerate(dates)}
    last = len(dates)
    return tuple(last if lot.expires is None else rank[lot.expires] for lot in lots)


def usable_on(lots: Sequence[Lot], day: dt.date | None) -> tuple[tuple[Lot, ...], tuple[Lot, ...]]:
    """(lots usable on ``day``, lots expired before it); all usable when no day."""
    if day is None:
        return tuple(lots), ()
    fresh = tuple(lot for lot in lots if lot.expires is None or lot.expires >= day)
    expired = tuple(lot for lot in lots if lot.expires is not None and lot.expires < day)
    return fresh, expired
