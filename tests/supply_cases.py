"""Supply cases shared by the supply tests: hypothesis strategies, the
brute-force lexicographic optimum, and the invariants every plan keeps."""

from __future__ import annotations

import datetime as dt
import itertools
import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from hypothesis import strategies as st

from optimizer import Lot, Tolerance
from optimizer.supply import DoseRequest, SupplyResult
from tests.oracle import ranks as expiry_ranks

#: Pins a supply plan so that only one outcome is possible: one CP-SAT worker
#: (its search is deterministic) and a time limit that no case in the tests
#: comes near (each finishes in seconds), so machine load cannot change the answer.
PINNED: dict[str, Any] = {"time_limit": 600.0, "workers": 1}


@st.composite
def small_shelves(draw: st.DrawFn, fewest: int) -> list[Lot]:
    """One to three lots of ``fewest`` to 3 vials, some with expiry dates."""
    return [
        Lot(
            f"L{i}",
            Fraction(draw(st.integers(400, 3100))),
            draw(st.integers(fewest, 3)),
            expires=draw(st.none() | st.sampled_from((dt.date(2027, 1, 1), dt.date(2027, 6, 1)))),
        )
        for i in range(draw(st.integers(1, 3)))
    ]


@st.composite
def dose_around(draw: st.DrawFn, target: Fraction) -> DoseRequest:
    """A dose of ``target``: tolerance, vial cap, patient and date drawn."""
    return DoseRequest(
        target,
        Tolerance(draw(st.sampled_from((2, 5, 10))), draw(st.sampled_from((2, 5, 10)))),
        draw(st.none() | st.integers(1, 4)),
        draw(st.sampled_from(("P1", "P2"))),
        draw(st.none() | st.sampled_from((dt.date(2026, 12, 1), dt.date(2027, 3, 1)))),
        draw(st.sampled_from((Fraction(0), Fraction(1), Fraction(1), Fraction(2), Fraction(5)))),
    )


def grid(doses: list[DoseRequest], lots: list[Lot]) -> Fraction:
    """The supply's grid (docs/design.md): the greatest common divisor of its vial
    amounts and its doses' targets, as a fraction."""
    values = [lot.amount for lot in lots if lot.count > 0] + [d.target for d in doses]
    denominator = math.lcm(*(v.denominator for v in values))
    return Fraction(math.gcd(*(int(v * denominator) for v in values)), denominator)


def slack(
    doses: list[DoseRequest], lots: list[Lot], choice: list[tuple[int, ...] | None]
) -> Fraction:
    """The sum of the met doses' resolutions, each in whole grid units, rounded down."""
    unit = grid(doses, lots)
    return sum(
        (
            math.floor(d.target * d.resolution_pct / 100 / unit) * unit
            for d, c in zip(doses, choice, strict=True)
            if c is not None
        ),
        Fraction(0),
    )


def deviation_of(
    doses: list[DoseRequest], lots: list[Lot], choice: list[tuple[int, ...] | None]
) -> Fraction:
    return sum(
        (
            abs(sum(n * lot.amount for n, lot in zip(c, lots, strict=True)) - d.target)
            for d, c in zip(doses, choice, strict=True)
            if c is not None
        ),
        Fraction(0),
    )


def _options(dose: DoseRequest, lots: list[Lot]) -> list[tuple[int, ...] | None]:
    options: list[tuple[int, ...] | None] = [None]
    low, high = dose.tolerance.window(dose.target)
    for counts in itertools.product(*(range(lot.count + 1) for lot in lots)):
        usable = all(
            n == 0 or dose.as_of is None or lot.expires is None or lot.expires >= dose.as_of
            for n, lot in zip(counts, lots, strict=True)
        )
        if dose.lots is not None:
            usable = usable and all(
                n == 0 or lot.lot in dose.lots for n, lot in zip(counts, lots, strict=True)
            )
        total = sum(n * lot.amount for n, lot in zip(counts, lots, strict=True))
        vials_ok = dose.max_vials is None or sum(counts) <= dose.max_vials
        if usable and vials_ok and low <= total <= high and sum(counts):
            options.append(counts)
    return options


def _plans(doses: list[DoseRequest], lots: list[Lot]) -> list[list[tuple[int, ...] | None]]:
    """Every assignment of selections to doses the stock allows, meeting the most
    doses any of them meets."""
    per_dose = [_options(dose, lots) for dose in doses]
    plans = [
        list(choice)
        for choice in itertools.product(*per_dose)
        if all(sum(c[i] for c in choice if c) <= lot.count for i, lot in enumerate(lots))
    ]
    most = max(sum(c is not None for c in p) for p in plans)
    return [p for p in plans if sum(c is not None for c in p) == most]


@dataclass(frozen=True)
class NearSet:
    """What judging a plan against the rule needs, worked out once per supply."""

    least: Fraction  # the least total deviation of the plans meeting the most doses
    caps: dict[int, Fraction]
    strict: bool  # some plan of the pooled near set keeps every cap


def near_set(doses: list[DoseRequest], lots: list[Lot]) -> NearSet:
    plans = _plans(doses, lots)
    least = min(deviation_of(doses, lots, p) for p in plans)
    bound = caps(doses, lots)
    strict = any(
        deviation_of(doses, lots, p) - slack(doses, lots, p) <= least
        and within(doses, lots, p, bound)
        for p in plans
    )
    return NearSet(least, bound, strict)


def brute_force(doses: list[DoseRequest], lots: list[Lot]) -> tuple[object, ...]:
    """The optimum by enumerating every vial assignment (tiny cases), by the rule of
    docs/design.md: the most doses met; among those, the plans whose total
    deviation less their slack is at most the least total deviation (the near
    set); within it, those keeping every dose within its resolution of its own
    closest (alone, on the whole shelf) when there are any; then the fewest vials,
    lots per patient, expiry cost.  Returned as :func:`key` gives it."""
    near = near_set(doses, lots)
    return min(key(doses, lots, p, near) for p in _plans(doses, lots))


def caps(doses: list[DoseRequest], lots: list[Lot]) -> dict[int, Fraction]:
    """Each dose's own closest deviation, alone on the whole shelf, plus its
    resolution (in whole grid units): the stricter near set's bound."""
    unit = grid(doses, lots)
    found = {}
    for d, dose in enumerate(doses):
        options = [c for c in _options(dose, lots) if c is not None]
        if options:
            closest = min(
                abs(sum(n * lot.amount for n, lot in zip(c, lots, strict=True)) - dose.target)
                for c in options
            )
            step = math.floor(dose.target * dose.resolution_pct / 100 / unit) * unit
            found[d] = closest + step
    return found


def within(
    doses: list[DoseRequest],
    lots: list[Lot],
    choice: list[tuple[int, ...] | None],
    bound: dict[int, Fraction],
) -> bool:
    return all(
        abs(sum(n * lot.amount for n, lot in zip(c, lots, strict=True)) - doses[d].target)
        <= bound[d]
        for d, c in enumerate(choice)
        if c is not None and d in bound
    )


def key(
    doses: list[DoseRequest],
    lots: list[Lot],
    choice: list[tuple[int, ...] | None],
    near: NearSet,
) -> tuple[object, ...]:
    """(doses not met, outside the near set of ``least`` (the strict one when it
    has plans), vials, lots per patient, expiry cost)."""
    met = [(d, c) for d, c in zip(doses, choice, strict=True) if c is not None]
    outside = deviation_of(doses, lots, choice) - slack(doses, lots, choice) > near.least
    if not outside and near.strict:
        outside = not within(doses, lots, choice, near.caps)
    vials = sum(sum(c) for _, c in met)
    patients: dict[str, set[int]] = {}
    for d, c in met:
        patients.setdefault(d.patient, set()).update(i for i, n in enumerate(c) if n)
    ranks = expiry_ranks(lots)
    expiry = sum(r * n for _, c in met for r, n in zip(ranks, c, strict=True))
    return (-len(met), outside, vials, sum(len(s) for s in patients.values()), expiry)


def least_deviation(doses: list[DoseRequest], lots: list[Lot]) -> Fraction:
    """The least total deviation of the plans meeting the most doses (brute force)."""
    return min(deviation_of(doses, lots, p) for p in _plans(doses, lots))


def result_key(
    doses: list[DoseRequest], lots: list[Lot], result: SupplyResult
) -> tuple[object, ...]:
    choice = [
        None if s is None else tuple(s.counts_by_lot().get(lot.lot, 0) for lot in lots)
        for s in result.selections
    ]
    return key(doses, lots, choice, near_set(doses, lots))


@st.composite
def supplies(draw: st.DrawFn) -> tuple[list[DoseRequest], list[Lot]]:
    """Supplies of one to three doses, most near a sum of the shelf's vials (so that
    they can be met and compete), some anywhere."""
    lots = draw(small_shelves(fewest=0))
    doses = []
    for _ in range(draw(st.integers(1, 3))):
        vials = draw(st.lists(st.sampled_from(lots), max_size=3))
        if vials and draw(st.integers(0, 3)):
            near = sum(lot.amount for lot in vials) + draw(st.integers(-60, 60))
        else:
            near = Fraction(draw(st.integers(500, 5000)))
        doses.append(draw(dose_around(max(near, Fraction(100)))))
    return doses, lots


def check_plan(doses: list[DoseRequest], lots: list[Lot], result: SupplyResult) -> None:
    """Stock never oversubscribed; every met dose in its window, under its cap, unexpired."""
    used: dict[str, int] = {}
    for dose, selection in zip(doses, result.selections, strict=True):
        if selection is None:
            continue
        low, high = dose.tolerance.window(dose.target)
        assert low <= selection.total <= high
        assert dose.max_vials is None or selection.vials <= dose.max_vials
        for pick in selection.picks:
            used[pick.lot.lot] = used.get(pick.lot.lot, 0) + pick.count
            assert dose.as_of is None or pick.lot.expires is None or pick.lot.expires >= dose.as_of
    stock = {lot.lot: lot.count for lot in lots}
    assert all(n <= stock[lot] for lot, n in used.items())


@st.composite
def reachable_supplies(draw: st.DrawFn) -> tuple[list[DoseRequest], list[Lot]]:
    """Supplies whose doses are near sums of their lots' vials, so that most can
    be met and they compete for the stock (the column model's ground)."""
    lots = draw(small_shelves(fewest=1))
    doses = []
    for _ in range(draw(st.integers(1, 4))):
        vials = draw(st.lists(st.sampled_from(lots), min_size=1, max_size=3))
        doses.append(
            draw(dose_around(sum(lot.amount for lot in vials) + draw(st.integers(-60, 60))))
        )
    return doses, lots


@st.composite
def met_supplies(draw: st.DrawFn) -> tuple[list[DoseRequest], list[Lot]]:
    """Supplies that can be met whole, by construction: each dose is a share of
    the stock no other dose takes, its target within its window of that share,
    its cap at least that share's vials, no date setting its lots aside."""
    lots = draw(small_shelves(fewest=1))
    left = [lot.count for lot in lots]
    doses = []
    for _ in range(draw(st.integers(1, 3))):
        share = [draw(st.integers(0, n)) for n in left]
        if not any(share):
            continue
        left = [n - k for n, k in zip(left, share, strict=True)]
        amount = sum((lot.amount * k for lot, k in zip(lots, share, strict=True)), Fraction(0))
        tolerance = Tolerance(draw(st.sampled_from((2, 5, 10))), draw(st.sampled_from((2, 5, 10))))
        # a target whose window holds the share's total: off by at most 1.5%
        target = amount * (1 + Fraction(draw(st.integers(-15, 15)), 1000))
        cap = draw(st.sampled_from((None, sum(share), sum(share) + 1)))
        doses.append(DoseRequest(target, tolerance, cap, draw(st.sampled_from(("P1", "P2")))))
    if not doses:
        amount = lots[0].amount
        doses.append(DoseRequest(amount, Tolerance(5, 5), None, "P1"))
    return doses, lots
