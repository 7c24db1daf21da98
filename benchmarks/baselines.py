"""Baselines the engines are measured against."""

from __future__ import annotations

from fractions import Fraction

from optimizer import Lot, Tolerance


def greedy_largest_first(
    target: Fraction, lots: list[Lot], tolerance: Tolerance
) -> Fraction | None:
    """The common hand method: take the largest vials first while the total stays
    under the top of the window; None when it ends outside the window."""
    low, high = tolerance.window(target)
    total = Fraction(0)
    for lot in sorted(lots, key=lambda item: item.amount, reverse=True):
        for _ in range(lot.count):
            if total + lot.amount > high:
                break
            total += lot.amount
    return total if low <= total <= high else None
