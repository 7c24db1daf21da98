"""An oracle for one dose, written from docs/design.md "Selection rules" alone.

It shares nothing with the optimizer but :class:`optimizer.Lot`: it enumerates
every vial count of every lot in the caller's units, compares totals with the
window as exact fractions (no scaling, no rounding to a grid), ranks expiry
dates itself, and orders selections by the documented keys.  Keep shelves
small: it enumerates the product of the lots' counts.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterator, Sequence
from fractions import Fraction

from optimizer import Lot

Key = tuple[Fraction | int, ...]


def usable(lots: Sequence[Lot], as_of: dt.date | None) -> list[Lot]:
    """The lots that can be chosen: some vials, not expired on ``as_of``."""
    return [
        lot
        for lot in lots
        if lot.count > 0 and (as_of is None or lot.expires is None or lot.expires >= as_of)
    ]


def ranks(lots: Sequence[Lot]) -> list[int]:
    """Each lot's rank by expiry date: earliest 0, equal dates share a rank (no
    gaps after them), lots without a date last."""
    dates = sorted({lot.expires for lot in lots if lot.expires is not None})
    return [len(dates) if lot.expires is None else dates.index(lot.expires) for lot in lots]


def selections(lots: Sequence[Lot], max_vials: int | None) -> Iterator[tuple[int, ...]]:
    for counts in itertools.product(*(range(lot.count + 1) for lot in lots)):
        if max_vials is None or sum(counts) <= max_vials:
            yield counts


def total(lots: Sequence[Lot], counts: Sequence[int]) -> Fraction:
    return sum((lot.amount * n for lot, n in zip(lots, counts, strict=True)), Fraction(0))


def key(target: Fraction, lots: Sequence[Lot], counts: Sequence[int], mode: str) -> Key:
    """The documented order among near selections, smallest best: whole_vials
    (vials, |deviation|, under the order, expiry cost); exact_dose (vials,
    discard, expiry cost)."""
    amount = total(lots, counts)
    vials = sum(counts)
    expiry = sum(r * n for r, n in zip(ranks(lots), counts, strict=True))
    if mode == "whole_vials":
        return (vials, abs(amount - target), int(amount < target), expiry)
    return (vials, amount - target, expiry)


def miss(target: Fraction, amount: Fraction, mode: str) -> Fraction:
    """How far a selection is from the order: |deviation|, or the discard."""
    return abs(amount - target) if mode == "whole_vials" else amount - target


def feasible(
    target: Fraction, amount: Fraction, mode: str, under: Fraction, over: Fraction
) -> bool:
    if mode == "whole_vials":
        return target * (1 - under / 100) <= amount <= target * (1 + over / 100)
    return amount >= target


def best(
    target: Fraction,
    lots: Sequence[Lot],
    mode: str,
    *,
    under: Fraction = Fraction(10),
    over: Fraction = Fraction(10),
    max_vials: int | None = None,
    resolution_pct: Fraction = Fraction(1),
) -> Key | None:
    """The optimal key over every feasible selection of ``lots`` (already the
    usable ones), or None when none is feasible: among those within the
    resolution of the least miss (the near set), the smallest :func:`key`."""
    found = [
        counts
        for counts in selections(lots, max_vials)
        if feasible(target, total(lots, counts), mode, under, over)
    ]
    if not found:
        return None
    least = min(miss(target, total(lots, c), mode) for c in found)
    reach = least + target * resolution_pct / 100
    return min(
        key(target, lots, c, mode) for c in found if miss(target, total(lots, c), mode) <= reach
    )


def counts_of(lots: Sequence[Lot], by_lot: dict[str, int]) -> tuple[int, ...]:
    """A selection's counts by lot id, as a tuple in the order of ``lots``."""
    return tuple(by_lot.get(lot.lot, 0) for lot in lots)
