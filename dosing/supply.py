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

import dataclasses
import datetime as dt
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from dosing.billing.crosswalk import Crosswalk
from dosing.billing.mue import Mue
from dosing.errors import InputError
from dosing.orders import Order, checked_object, inventory_of, parse_order
from dosing.pipeline import Plan, Prepared, assemble, prepare
from optimizer import Lot, Mode, SelectionResult, Status
from optimizer.errors import FieldError
from optimizer.numbers import as_fraction
from optimizer.supply import DoseRequest, SupplyResult
from optimizer.supply import plan_supply as optimize_supply

__all__ = ["SUPPLY_KEYS", "SupplyGroup", "SupplyPlan", "plan_supply"]

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
class SupplyGroup:
    """The doses of one drug, chosen together from its lots."""

    drug: str  # "Jivi (J7208)"
    doses: tuple[int, ...]  # indexes into the request's doses
    unit: str
    result: SupplyResult
    baseline: SupplyResult

    def summary(self, seconds: float = 0.0) -> dict[str, object]:
        return {
            "drug": self.drug,
            "doses": len(self.doses),
            "met": self.result.met,
            "unit": self.unit,
            "total_deviation": float(self.result.total_deviation),
            "vials": self.result.vials,
            "proven_optimal": self.result.proven_optimal,
            "engine": self.result.engine,
            "seconds": round(seconds or self.result.seconds, 3),
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
                "total_deviation": float(self.baseline.total_deviation),
                "vials": self.baseline.vials,
            },
        }


@dataclass(frozen=True)
class SupplyPlan:
    """One plan per dose, chosen together (by drug), with the solver's account."""

    plans: tuple[Plan, ...]
    groups: tuple[SupplyGroup, ...]
    seconds: float = 0.0  # the whole request: reading, planning, billing

    @property
    def ok(self) -> bool:
        return all(plan.ok for plan in self.plans)

    @property
    def result(self) -> SupplyResult:
        """The solver's account, for a request of one drug (the usual case)."""
        return self._only().result

    @property
    def baseline(self) -> SupplyResult:
        """The sequential baseline, for a request of one drug."""
        return self._only().baseline

    def _only(self) -> SupplyGroup:
        if len(self.groups) != 1:
            raise ValueError("this supply has several drugs: read .groups")
        return self.groups[0]

    def to_dict(self) -> dict[str, object]:
        """The supply JSON: one group's summary as ``summary`` (with ``drug``); with
        several drugs, ``summary`` totals the doses and lists each in ``groups``."""
        doses = [
            {"dose": number, "patient_id": plan.order.patient_id, **plan.to_dict()}
            for number, plan in enumerate(self.plans, start=1)
        ]
        if len(self.groups) == 1:
            summary = self.groups[0].summary(self.seconds)
        else:
            summary = {
                "doses": len(self.plans),
                "met": sum(g.result.met for g in self.groups),
                "vials": sum(g.result.vials for g in self.groups),
                "proven_optimal": all(g.result.proven_optimal for g in self.groups),
                "seconds": round(self.seconds, 3),
                "groups": [g.summary() for g in self.groups],
            }
        return {"status": "ok" if self.ok else "partial", "doses": doses, "summary": summary}


def plan_supply(
    request: Mapping[str, object],
    *,
    base_dir: Path | None = None,
    code_set: str | Path | None = None,
    today: dt.date | None = None,
    crosswalk: Crosswalk | None = None,
    mue: Mapping[str, Mue] | None = None,
) -> SupplyPlan:
    """Plan every dose of a supply request (a dict of the supply JSON);
    ``crosswalk`` links the lots' NDCs to codes (:mod:`dosing.identity`)."""
    started = time.monotonic()
    request = checked_object(request, SUPPLY_KEYS, what="supply")
    lots = inventory_of(request, base_dir)
    doses = request.get("doses")
    if not isinstance(doses, list) or not doses:
        raise InputError("doses", "a non-empty list of orders", doses)
    set_name = code_set or _text(request.get("code_set"), "code_set")
    prepared = [
        _prepare(i, dose, lots, set_name, today, base_dir, crosswalk, mue)
        for i, dose in enumerate(doses)
    ]
    time_limit = _positive(request.get("time_limit", DEFAULT_TIME_LIMIT), "time_limit")
    workers = request.get("workers", 2)
    if isinstance(workers, bool) or not isinstance(workers, int) or not 1 <= workers <= 64:
        raise InputError("workers", "a whole number of solver workers from 1 to 64", workers)
    model = _text(request.get("model"), "model") or "auto"
    prepared = _shared_lots_set_aside(prepared)
    members: dict[tuple[str, ...], list[int]] = {}
    for index, p in enumerate(prepared):
        members.setdefault(tuple(lot.lot for lot in p.shelf.usable), []).append(index)
    plans: list[Plan | None] = [None] * len(prepared)
    groups = []
    for indexes in members.values():
        # the limit is the whole request's, shared by the groups by their doses: what
        # reading took is spent, and billing each dose afterwards takes a millisecond
        spent = time.monotonic() - started + _BILLING_PER_DOSE * len(prepared)
        left = max(float(time_limit) - spent, 0.1 * float(time_limit))
        group = _plan_group(
            [prepared[i] for i in indexes],
            indexes,
            time_limit=left * len(indexes) / len(prepared),
            workers=workers,
            model=model,
        )
        groups.append(group[0])
        for index, plan in zip(indexes, group[1], strict=True):
            plans[index] = plan
    return SupplyPlan(
        tuple(p for p in plans if p is not None),
        tuple(groups),
        seconds=time.monotonic() - started,
    )


def _shared_lots_set_aside(prepared: list[Prepared]) -> list[Prepared]:
    """The doses, with every lot that doses of different drugs could both draw on
    set aside for all of them (a vial must not be counted twice)."""
    usable_sets = {tuple(lot.lot for lot in p.shelf.usable) for p in prepared}
    seen: dict[str, int] = {}
    for lots in usable_sets:
        for lot in lots:
            seen[lot] = seen.get(lot, 0) + 1
    shared = {lot for lot, count in seen.items() if count > 1}
    if not shared:
        return prepared
    out = []
    for p in prepared:
        aside = [lot for lot in p.shelf.usable if lot.lot in shared]
        if not aside:
            out.append(p)
            continue
        shelf = dataclasses.replace(
            p.shelf,
            usable=tuple(lot for lot in p.shelf.usable if lot.lot not in shared),
            set_aside=p.shelf.set_aside
            + tuple((lot, "wanted by doses of another drug as well") for lot in aside),
            unverified=tuple(lot for lot in p.shelf.unverified if lot.lot not in shared),
        )
        out.append(dataclasses.replace(p, shelf=shelf))
    return out


def _plan_group(
    prepared: Sequence[Prepared],
    indexes: Sequence[int],
    *,
    time_limit: float,
    workers: int,
    model: str,
) -> tuple[SupplyGroup, list[Plan]]:
    """The doses of one drug, chosen together from that drug's lots."""
    wanted = [
        DoseRequest(
            p.calculation.amount,
            p.tolerance,
            p.order.max_vials,
            p.order.patient_id or f"dose {i + 1}",
            p.day,
            p.resolution_pct,
        )
        for i, p in zip(indexes, prepared, strict=True)
    ]
    units = {p.code.unit for p in prepared}
    if len(units) > 1:  # the same lots for codes in IU and in mcg: no catalog product
        raise InputError(
            "doses",
            "codes of one unit of measure for the same lots (name each lot's product)",
            ", ".join(sorted(units)),
        )
    try:
        result = optimize_supply(
            wanted, prepared[0].shelf.usable, time_limit=time_limit, workers=workers, model=model
        )
    except FieldError as exc:
        raise InputError(exc.field, exc.expected, exc.got) from None
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
    group = SupplyGroup(
        prepared[0].shelf.ordered,
        tuple(indexes),
        units.pop(),
        result,
        result.baseline or result,
    )
    return group, plans


def _prepare(
    index: int,
    dose: object,
    lots: tuple[Lot, ...],
    code_set: str | Path | None,
    today: dt.date | None,
    base_dir: Path | None,
    crosswalk: Crosswalk | None,
    mue: Mapping[str, Mue] | None,
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
