"""Planning from the shelf's stock, and dispensing what was planned.

:func:`plan_order` and :func:`plan_doses` plan exactly as :func:`dosing.plan`
and :func:`dosing.plan_supply` do, with the ledger's stock at the site as the
lots.  With ``user`` they also dispense: the vials are recorded in one
transaction that reads the chosen lots' stock again (:meth:`Shelf.dispense_all`).
When another dispense took some of them in between, the order is planned once
more from what is left and that plan dispensed; when that also loses, or what
is left cannot make the dose, :class:`StockChanged` says what changed and
nothing is recorded.  Only a plan that is ``ok`` is dispensed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from dosing.errors import DosingError, InputError
from dosing.pipeline import Plan, plan
from dosing.shelf.store import Dispense, Shelf, StockChanged, order_text
from dosing.supply import SupplyPlan, plan_supply
from optimizer import Lot
from optimizer.errors import Described
from optimizer.numbers import counted

__all__ = ["AlreadyDispensed", "Dispensed", "plan_doses", "plan_order"]


class AlreadyDispensed(DosingError):
    """The request's key was dispensed before (a double click, a retry): its
    dispense id and the plan JSON it recorded; nothing new is recorded."""

    def __init__(self, dispense_id: int, plan: Mapping[str, object] | None) -> None:
        super().__init__(f"already dispensed as dispense {dispense_id}: nothing new recorded")
        self.dispense_id = dispense_id
        self.plan = dict(plan or {})


P = TypeVar("P", Plan, SupplyPlan)


@dataclass(frozen=True)
class Dispensed:
    """A plan from the shelf, and what was recorded of it."""

    plan: Plan | SupplyPlan
    #: the dispense ids recorded, one per dose (none when not dispensed)
    dispense_ids: tuple[int, ...] = ()
    #: what another dispense changed before this one was planned again ("" if nothing)
    changed: str = ""
    #: who dispensed, and for whom each dispense was (with ``dispense_ids``)
    user: str | None = None
    patients: tuple[str | None, ...] = ()

    def to_dict(self) -> dict[str, object]:
        """The plan JSON (or supply JSON) with ``dispense_ids`` and ``replanned``."""
        return {
            **self.plan.to_dict(),
            "dispense_ids": list(self.dispense_ids),
            "replanned": self.changed or None,
        }


def plan_order(
    shelf: Shelf,
    order: Mapping[str, object],
    *,
    site: str | None = None,
    user: str | None = None,
    patient: str | None = None,
    key: str | None = None,
    **options: Any,
) -> Dispensed:
    """Plan ``order`` (the order JSON, naming no inventory) from the stock at its
    ``site`` (or ``site``; the two must agree), and with ``user`` dispense it for
    ``patient`` (default the order's ``patient_id``).  ``options`` go to
    :func:`dosing.plan`.  ``key`` names the request: dispensed once under it,
    the same key again is :class:`AlreadyDispensed`, and nothing is recorded."""
    where = _site(order.get("site"), site)
    ordered = _text(order.get("patient_id"))
    if patient is not None and ordered is not None and patient != ordered:
        raise InputError(
            "patient", "the order's own patient_id (or none given)", Described("another")
        )
    who = patient if patient is not None else ordered
    if key is not None and user is not None:
        seen = shelf.already(key)
        if seen is not None:
            dispense_id, recorded, was_for = seen
            if was_for != (order_text(order), who):  # a key reused: never its dispense
                raise InputError(
                    "Idempotency-Key",
                    "a key not used before for another order",
                    Described(f"the key of dispense {dispense_id}, another order"),
                )
            raise AlreadyDispensed(dispense_id, recorded)

    def planned(lots: tuple[Lot, ...]) -> Plan:
        return plan(order, inventory=lots, **options)

    def wanted(result: Plan) -> list[Dispense]:
        vials = {v.lot: v.count for v in result.vials}
        return [Dispense(vials, who, dict(order), result.to_dict(), key)]

    return _dispensing(shelf, where, user, planned, wanted, lambda p: p.ok)


def plan_doses(
    shelf: Shelf,
    request: Mapping[str, object],
    *,
    site: str = "",
    user: str | None = None,
    **options: Any,
) -> Dispensed:
    """Plan a supply request (naming no inventory) from the stock at ``site``,
    and with ``user`` dispense every dose, each for its ``patient_id``, all in
    one transaction.  ``options`` go to :func:`dosing.plan_supply`."""
    where = _site(None, site)

    def planned(lots: tuple[Lot, ...]) -> SupplyPlan:
        return plan_supply(request, inventory=lots, **options)

    def wanted(result: SupplyPlan) -> list[Dispense]:
        doses = request.get("doses")
        assert isinstance(doses, list)  # plan_supply checked it
        return [
            Dispense(
                {v.lot: v.count for v in dose.vials},
                dose.order.patient_id,
                dict(order),
                dose.to_dict(),
            )
            for dose, order in zip(result.plans, doses, strict=True)
        ]

    return _dispensing(shelf, where, user, planned, wanted, lambda p: p.ok)


def _dispensing(
    shelf: Shelf,
    site: str,
    user: str | None,
    planned: Callable[[tuple[Lot, ...]], P],
    wanted: Callable[[P], list[Dispense]],
    ok: Callable[[P], bool],
) -> Dispensed:
    result = planned(tuple(lot for lot in shelf.stock(site) if lot.count))
    if user is None or not ok(result):
        return Dispensed(result)
    try:
        return _recorded(shelf, result, wanted(result), user, site, "")
    except StockChanged as lost:
        changed, short = _what_changed(lost), lost.short
    again = planned(tuple(lot for lot in shelf.stock(site) if lot.count))
    if not ok(again):
        raise StockChanged(
            f"{changed}; what is left cannot make the dose: nothing was dispensed", short
        )
    try:
        return _recorded(shelf, again, wanted(again), user, site, changed)
    except StockChanged as twice:
        raise StockChanged(
            f"{changed}, and again while planning from what was left "
            f"({_what_changed(twice)}): nothing was dispensed; plan again",
            twice.short,
        ) from None


def _recorded(
    shelf: Shelf, result: P, wanted: list[Dispense], user: str, site: str, changed: str
) -> Dispensed:
    ids = shelf.dispense_all(wanted, user=user, site=site)
    return Dispensed(result, tuple(ids), changed, user, tuple(d.patient for d in wanted))


def _what_changed(lost: StockChanged) -> str:
    return "another dispense took vials first: " + ", ".join(
        f"lot {lot} has {counted(left, 'vial')} left, {asked} were planned"
        for lot, (left, asked) in sorted(lost.short.items())
    )


def _site(ordered: object, given: str | None) -> str:
    named = _text(ordered)
    if named is not None and given and named != given:
        raise InputError("site", "the order's own site (or no --site)", Described("another"))
    return named or given or ""


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value.strip() else None
