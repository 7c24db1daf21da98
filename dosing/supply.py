"""Supply planning: many doses from one shelf (a patient's month, a pharmacy's prep list).

A supply request (README "Dispensing a supply") lists doses, each an order as
in docs/design.md without its own inventory, and one shared inventory.  Every dose
is prepared as ``dosing.plan`` prepares an order (amount, payer, tolerance),
the vials of all doses are chosen together by :func:`optimizer.supply.plan_supply`
(whole vials; objectives in its docstring), and each dose is billed as a plan
is.  The sequential baseline (each dose alone, in order) is reported beside
the joint plan.

Each dose uses only the lots of its own drug (:mod:`dosing.identity`).  Doses
of different drugs are planned as separate groups, each from its own lots;
a lot two groups could both draw on (one whose identity is not verified, or
a J7192 lot wanted by a dose naming its product and by one that does not) is
set aside for both, with a warning, so no vial is counted twice.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from dosing.billing.crosswalk import Crosswalk
from dosing.billing.mue import Mue
from dosing.errors import InputError
from dosing.orders import (
    MAX_TIME_LIMIT,
    Order,
    checked_object,
    inventory_of,
    no_inventory,
    parse_order,
)
from dosing.pipeline import Plan, Prepared, assemble, prepare
from optimizer import Lot, Mode, SelectionResult, Status
from optimizer.errors import Described, FieldError
from optimizer.numbers import as_fraction
from optimizer.supply import DoseRequest, SupplyResult
from optimizer.supply import plan_supply as optimize_supply

__all__ = ["SUPPLY_KEYS", "SupplyPlan", "plan_supply"]

SUPPLY_KEYS = (
    "doses",
    "inventory",
    "inventory_file",
    "code_set",
    "time_limit",
    "workers",
    "model",
)
DEFAULT_TIME_LIMIT = 30.0
#: Seconds kept per dose for billing it after the vials are chosen.
_BILLING_PER_DOSE = 0.001


@dataclass(frozen=True)
class SupplyPlan:
    """One plan per dose, chosen together, with the solver's account of it."""

    plans: tuple[Plan, ...]
    result: SupplyResult
    baseline: SupplyResult
    seconds: float = 0.0  # the whole request: reading, planning, billing

    @property
    def ok(self) -> bool:
        return all(plan.ok for plan in self.plans)

    @property
    def unit(self) -> str | None:
        """The doses' unit of measure, or None when they bill in several."""
        units = {plan.code.unit for plan in self.plans}
        return units.pop() if len(units) == 1 else None

    def to_dict(self) -> dict[str, object]:
        unit = self.unit
        return {
            "status": "ok" if self.ok else "partial",
            "doses": [
                {"dose": number, "patient_id": plan.order.patient_id, **plan.to_dict()}
                for number, plan in enumerate(self.plans, start=1)
            ],
            "summary": {
                "doses": len(self.plans),
                "met": self.result.met,
                "drugs": sorted({plan.drug for plan in self.plans}),
                "unit": unit,
                # deviations in IU and mcg do not add up: none when the units differ
                "total_deviation": float(self.result.total_deviation) if unit else None,
                "vials": self.result.vials,
                "proven_optimal": self.result.proven_optimal,
                "engine": self.result.engine,
                "seconds": round(self.seconds or self.result.seconds, 3),
                "stages": [
                    {
                        "stage": r.name,
                        "value": r.value,
                        "detail": r.detail,
                        "bound": r.bound,
                        "bound_detail": r.bound_detail,
                        "gap": round(r.gap, 6),
                        "proven": r.proven,
                        "seconds": round(r.seconds, 3),
                    }
                    for r in self.result.stages
                ],
                "sequential": {
                    "met": self.baseline.met,
                    "total_deviation": float(self.baseline.total_deviation) if unit else None,
                    "vials": self.baseline.vials,
                },
            },
        }


def plan_supply(
    request: Mapping[str, object],
    *,
    base_dir: Path | None = None,
    code_set: str | Path | None = None,
    today: dt.date | None = None,
    crosswalk: Crosswalk | None = None,
    mue: Mapping[str, Mue] | None = None,
    inventory: Sequence[Lot] | None = None,
    leaves: dt.date | None = None,
) -> SupplyPlan:
    """Plan every dose of a supply request (a dict of the supply JSON);
    ``crosswalk`` links the lots' NDCs to codes (:mod:`dosing.identity`).
    ``inventory`` (the shelf's stock) stands in for the request's lots, which
    it must then not name.  ``leaves`` is the day the vials leave the shelf, as
    for :func:`dosing.plan`."""
    started = time.monotonic()
    request = checked_object(request, SUPPLY_KEYS, what="supply")
    if inventory is None:
        lots = inventory_of(request, base_dir)
    else:
        lots = tuple(inventory)
        no_inventory(request, "the lots come from the shelf")
    doses = request.get("doses")
    if not isinstance(doses, list) or not doses:
        raise InputError("doses", "a non-empty list of orders", doses)
    set_name = code_set or _text(request.get("code_set"), "code_set")
    prepared = [
        _prepare(i, dose, lots, set_name, today, base_dir, crosswalk, mue, leaves)
        for i, dose in enumerate(doses)
    ]
    units_of: dict[str, set[str]] = {}
    for p in prepared:
        for lot in p.shelf.usable:
            units_of.setdefault(lot.lot, set()).add(p.code.unit)
    for lot_id, units in units_of.items():
        if len(units) > 1:  # an unidentified lot: 1,000 of what?
            raise InputError(
                "inventory",
                "lots that doses in different units (IU, mcg) could both use named by "
                "their product or a known NDC",
                Described(
                    f"lot {lot_id}, of unverified identity, wanted in {' and '.join(sorted(units))}"
                ),
            )
    time_limit = _positive(request.get("time_limit", DEFAULT_TIME_LIMIT), "time_limit")
    if time_limit > MAX_TIME_LIMIT:
        raise InputError(
            "time_limit", f"a number of seconds > 0 and at most {MAX_TIME_LIMIT}", time_limit
        )
    workers = request.get("workers", 2)
    if isinstance(workers, bool) or not isinstance(workers, int) or not 1 <= workers <= 64:
        raise InputError("workers", "a whole number of solver workers from 1 to 64", workers)
    wanted = [
        DoseRequest(
            p.calculation.amount,
            p.tolerance,
            p.order.max_vials,
            p.order.patient_id or f"dose {i + 1}",
            p.expiry_day,
            p.resolution_pct,
            # each dose draws only on its own drug's lots (dosing.identity)
            frozenset(lot.lot for lot in p.shelf.usable),
        )
        for i, p in enumerate(prepared)
    ]
    try:
        # the limit is the whole request's: what reading took is spent, and billing
        # each dose afterwards takes about a millisecond
        spent = time.monotonic() - started + _BILLING_PER_DOSE * len(wanted)
        result = optimize_supply(
            wanted,
            lots,
            time_limit=max(float(time_limit) - spent, 0.1 * float(time_limit)),
            workers=workers,
            model=_text(request.get("model"), "model") or "auto",
        )
    except FieldError as exc:
        raise InputError(exc.field, exc.expected, exc.got) from None
    baseline = result.baseline or result
    plans = []
    for index, (p, selection) in enumerate(zip(prepared, result.selections, strict=True)):
        window = p.tolerance.window(p.calculation.amount)
        if selection is None:
            status = Status.INFEASIBLE
        else:
            status = Status.OPTIMAL if result.stages_proven else Status.FEASIBLE
        below, above = result.nearest.get(index, (None, None))
        picked = SelectionResult(
            status=status,
            mode=Mode.WHOLE_VIALS,
            target=p.calculation.amount,
            window=window,
            selection=selection,
            below=below,
            above=above,
            reason=result.reasons.get(index, ""),
            engine=result.engine,
        )
        plans.append(assemble(p, picked))
    return SupplyPlan(tuple(plans), result, baseline, seconds=time.monotonic() - started)


def _prepare(
    index: int,
    dose: object,
    lots: tuple[Lot, ...],
    code_set: str | Path | None,
    today: dt.date | None,
    base_dir: Path | None,
    crosswalk: Crosswalk | None,
    mue: Mapping[str, Mue] | None,
    leaves: dt.date | None,
) -> Prepared:
    where = f"doses[{index}]"
    if not isinstance(dose, Mapping):
        raise InputError(where, "an order (JSON object)", dose)
    for key in ("inventory", "inventory_file"):
        if key in dose:
            raise InputError(
                f"{where}.{key}",
                "absent: the doses share the request's inventory",
                "a dose inventory",
            )
    if dose.get("mode", "whole_vials") not in ("whole_vials", "auto"):
        raise InputError(
            f"{where}.mode", "whole_vials (a supply dispenses whole vials)", dose.get("mode")
        )
    try:
        order: Order = parse_order({**dose, "inventory": []}, code_set=code_set)
        return prepare(
            order,
            code_set=code_set,
            today=today,
            lots=lots,
            base_dir=base_dir,
            crosswalk=crosswalk,
            mue=mue,
            leaves=leaves,
        )
    except InputError as exc:
        raise InputError(f"{where}.{exc.field}", exc.expected, exc.got) from None


def _text(value: object, field: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise InputError(field, "non-empty text", value)
    return value.strip()


def _positive(value: object, field: str) -> Fraction:
    number = as_fraction(value, field, error=InputError)
    if number <= 0:
        raise InputError(field, "a number of seconds > 0", float(number))
    return number
