"""The baseline: each dose chosen alone with the single-dose optimizer, in order."""

from __future__ import annotations

import time
from collections.abc import Sequence

from optimizer.inventory import Lot
from optimizer.problem import Mode
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
    for index, dose in enumerate(doses):
        shelf = [Lot(lot.lot, lot.amount, stock[lot.lot], lot.ndc, lot.expires) for lot in lots]
        result = select(
            dose.target,
            shelf,
            tolerance=dose.tolerance,
            mode=Mode.WHOLE_VIALS,
            max_vials=dose.max_vials,
            as_of=dose.as_of,
            deadline=deadline,
        )
        selections.append(result.selection)
        if result.selection is None:
            reasons[index] = result.reason
            continue
        for pick in result.selection.picks:
            stock[pick.lot.lot] -= pick.count
    status = Status.OPTIMAL if not reasons else Status.INFEASIBLE
    return SupplyResult(
        status,
        tuple(selections),
        reasons,
        engine="sequential",
        seconds=time.monotonic() - started,
    )
