"""The baseline: each dose chosen alone with the single-dose optimizer, in order.

Each dose takes its own optimum from what the doses before it left.  The exact
table of one shelf is kept and asked again for the next dose while the same
lots are in stock (so the expiry ranks are the same) and its answer fits what
is left: an optimum over more stock that the stock left still holds is the
optimum over the stock left.  Otherwise the table is built again, or, for a
shelf too large for a table, the dose goes to :func:`optimizer.select`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from fractions import Fraction

from optimizer import exact
from optimizer.inventory import Lot, with_count
from optimizer.problem import Mode, Problem
from optimizer.result import Selection, Status
from optimizer.select import select
from optimizer.supply.result import DoseRequest, SupplyResult

__all__ = ["sequential"]


def sequential(
    doses: Sequence[DoseRequest], lots: Sequence[Lot], *, deadline: float | None = None
) -> SupplyResult:
    """The baseline: each dose chosen alone with the single-dose optimizer, in order,
    from what the doses before it left on the shelf."""
    started = time.monotonic()
    stock = {lot.lot: lot.count for lot in lots}
    selections: list[Selection | None] = []
    reasons: dict[int, str] = {}
    kept: dict[object, exact.Reusable] = {}
    for index, dose in enumerate(doses):
        if deadline is not None and time.monotonic() > deadline:
            selections.append(None)
            reasons[index] = "not planned: the time limit ran out before this dose"
            continue
        selection = _from_kept(dose, lots, stock, doses, kept)
        if selection is None:
            result = select(
                dose.target,
                [with_count(lot, stock[lot.lot]) for lot in lots if dose.may_use(lot.lot)],
                tolerance=dose.tolerance,
                mode=Mode.WHOLE_VIALS,
                max_vials=dose.max_vials,
                as_of=dose.as_of,
                deadline=deadline,
                resolution_pct=dose.resolution_pct,
            )
            selection = result.selection
            if selection is None:
                reasons[index] = result.reason
        selections.append(selection)
        for pick in selection.picks if selection else ():
            stock[pick.lot.lot] -= pick.count
    status = Status.OPTIMAL if not reasons else Status.INFEASIBLE
    return SupplyResult(
        status,
        tuple(selections),
        reasons,
        engine="sequential",
        seconds=time.monotonic() - started,
    )


def _from_kept(
    dose: DoseRequest,
    lots: Sequence[Lot],
    stock: dict[str, int],
    doses: Sequence[DoseRequest],
    kept: dict[object, exact.Reusable],
) -> Selection | None:
    """The dose's optimum from a kept table, building one if needed; None when
    the dose has no selection in its window or the shelf is too large (then
    :func:`optimizer.select` says why, or answers with CP-SAT)."""
    day = dose.as_of
    usable = tuple(
        lot
        for lot in lots
        if stock[lot.lot] > 0
        and (day is None or lot.expires is None or lot.expires >= day)
        and dose.may_use(lot.lot)
    )
    if not usable:
        return None
    key = (dose.as_of, dose.max_vials, tuple(lot.lot for lot in usable))
    reusable = kept.get(key)
    for _ in range(2):  # the kept table, then one built on the stock left
        if reusable is None:
            shelf = [with_count(lot, stock[lot.lot]) for lot in usable]
            base = Problem.build(dose.target, shelf, dose.tolerance, dose.max_vials)
            # as many totals as the largest dose with this key needs, within the limits
            widest = max(
                (d.target * (1 + d.tolerance.over_pct / 100) for d in doses),
                default=Fraction(0),
            )
            size = min(int(widest / base.scale) + 1, base.total(base.counts)) + 1
            size = max(size, exact.needed_size(base, Mode.WHOLE_VIALS))
            if not exact.fits(base, size):
                return None
            kept.clear()  # one kept table at a time: memory stays bounded
            reusable = kept[key] = exact.Reusable(base, size)
        problem = reusable.problem.retarget(
            dose.target, dose.tolerance, dose.max_vials, dose.resolution_pct
        )
        answer = reusable.answer(problem, Mode.WHOLE_VIALS)
        if answer is None or answer.counts is None:
            return None
        counts = zip((lot.lot for lot in problem.lots), answer.counts, strict=True)
        if all(n <= stock[lot] for lot, n in counts):
            return Selection.from_counts(problem, answer.counts)
        reusable = None  # the stock left no longer holds it: build the table again
    return None
