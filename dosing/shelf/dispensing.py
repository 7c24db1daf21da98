"""Planning from the shelf's stock, and dispensing what was planned.

:func:`plan_order` and :func:`plan_doses` plan exactly as :func:`dosing.plan`
and :func:`dosing.plan_supply` do, with the ledger's stock at the site as the
lots and the site's today as the day the vials leave: a lot is used only if it
has not expired on the later of today and the date of service.  With ``user``
they also dispense, in one transaction that reads the chosen lots' stock again
(:meth:`Shelf.dispense_all`).

The bench's rules (docs/design.md "Bench safety"):

* a plan with hard stops (:mod:`dosing.stops`: a dose over the label, a patient
  younger than the label allows, a lot not identified as the ordered drug, a
  second dispense of the drug for the patient and date of service) is dispensed
  only with an ``override`` reason, recorded with the user; otherwise
  :class:`~dosing.stops.Stopped` and nothing is recorded;
* given the ``vials`` that were shown, exactly those are recorded after
  checking they are on hand and usable, or :class:`ShownChanged` says what
  changed (with the plan the shelf now gives) and nothing is recorded;
* without them (a one-step dispense: the command line, FHIR without a shown
  selection), the plan is recorded as printed; when another dispense took vials
  in between, the order is planned once more from what is left and that plan,
  said to be planned again, recorded; when that also loses, or what is left
  cannot make the dose, :class:`StockChanged` says what changed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from dosing.errors import DosingError, InputError
from dosing.pipeline import Plan, plan, plan_shown
from dosing.shelf.clock import site_today
from dosing.shelf.store import (
    Dispense,
    Shelf,
    StockChanged,
    duplicate_stop,
    order_text,
)
from dosing.stops import Override, Stop, Stopped, override_reason
from dosing.supply import SupplyPlan, plan_supply
from optimizer import Lot
from optimizer.errors import Described
from optimizer.numbers import counted

__all__ = [
    "AlreadyDispensed",
    "Dispensed",
    "ShownChanged",
    "plan_doses",
    "plan_order",
    "scoped_key",
    "shown_vials",
]

#: The most lots a shown selection names (a dose is a handful of vials).
MAX_SHOWN_LOTS = 64


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
    #: every hard stop: the plan's and the ledger's (a second dispense that day)
    stops: tuple[Stop, ...] = ()
    #: the override recorded with the dispense, when a stop was overridden
    override: Override | None = None
    #: the site's day the vials leave (or would leave) the shelf
    today: dt.date | None = None

    def to_dict(self) -> dict[str, object]:
        """The plan JSON (or supply JSON) with ``stops`` (all of them),
        ``override``, ``dispense_ids`` and ``replanned``."""
        return {
            **self.plan.to_dict(),
            "stops": [stop.to_dict() for stop in self.stops],
            "override": self.override.to_dict() if self.override else None,
            "dispense_ids": list(self.dispense_ids),
            "replanned": self.changed or None,
        }


class ShownChanged(StockChanged):
    """The vials shown for a dispense are no longer what the shelf can give
    (taken, expired, or no longer this order's plan): nothing was recorded.
    ``now`` is the plan the shelf gives today, for a new decision."""

    def __init__(
        self, message: str, short: Mapping[str, tuple[int, int]], now: Dispensed | None
    ) -> None:
        super().__init__(message, short)
        self.now = now


def plan_order(
    shelf: Shelf,
    order: Mapping[str, object],
    *,
    site: str | None = None,
    user: str | None = None,
    patient: str | None = None,
    key: str | None = None,
    override: str | None = None,
    vials: object = None,
    today: dt.date | None = None,
    **options: Any,
) -> Dispensed:
    """Plan ``order`` (the order JSON, naming no inventory) from the stock at its
    ``site`` (or ``site``; the two must agree) on ``today`` (the site's, by
    default), and with ``user`` dispense it for ``patient`` (default the order's
    ``patient_id``).  ``options`` go to :func:`dosing.plan`.  ``key`` names the
    request: dispensed once under it, the same key again is
    :class:`AlreadyDispensed`, and nothing is recorded.  ``override`` is the
    reason a pharmacist gives to dispense despite the stops; ``vials`` the
    selection that was shown (:func:`shown_vials`), to be recorded exactly."""
    where = _site(order.get("site"), site)
    ordered = _text(order.get("patient_id"))
    if patient is not None and ordered is not None and patient.strip() != ordered:
        raise InputError(
            "patient", "the order's own patient_id (or none given)", Described("another")
        )
    who = patient.strip() if patient is not None and patient.strip() else ordered
    reason = None if override is None else override_reason(override)
    shown = None if vials is None else shown_vials(vials)
    day = today or site_today()
    if key is not None and user is not None:
        key = scoped_key(user, key)
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
        return plan(order, inventory=lots, today=day, leaves=day, **options)

    def stops_of(result: Plan) -> tuple[Plan, tuple[Stop, ...]]:
        stops = (*result.stops, *_second_dispense(shelf, result, who, day))
        return replace(result, stops=stops), stops

    def wanted(result: Plan, granted: Override | None) -> list[Dispense]:
        chosen = {v.lot: v.count for v in result.vials}
        service, drug = result.order.date_of_service or day, result.code.product
        return [Dispense(chosen, who, dict(order), result.to_dict(), key, service, drug, granted)]

    if shown is not None:
        return _dispense_shown(
            shelf, where, user, day, shown, planned, stops_of, wanted, reason, order, options
        )
    return _dispensing(shelf, where, user, day, planned, stops_of, wanted, reason)


def plan_doses(
    shelf: Shelf,
    request: Mapping[str, object],
    *,
    site: str = "",
    user: str | None = None,
    override: str | None = None,
    today: dt.date | None = None,
    **options: Any,
) -> Dispensed:
    """Plan a supply request (naming no inventory) from the stock at ``site`` on
    ``today`` (the site's, by default), and with ``user`` dispense every dose,
    each for its ``patient_id``, all in one transaction.  ``options`` go to
    :func:`dosing.plan_supply`; ``override`` as for :func:`plan_order` (one
    reason for every dose's stops)."""
    where = _site(None, site)
    reason = None if override is None else override_reason(override)
    day = today or site_today()

    def planned(lots: tuple[Lot, ...]) -> SupplyPlan:
        return plan_supply(request, inventory=lots, today=day, leaves=day, **options)

    def stops_of(result: SupplyPlan) -> tuple[SupplyPlan, tuple[Stop, ...]]:
        found, doses = [], []
        seen: set[tuple[str, dt.date, str]] = set()
        for number, dose in enumerate(result.plans, start=1):
            patient = dose.order.patient_id
            mine = [*dose.stops, *_second_dispense(shelf, dose, patient, day)]
            service = dose.order.date_of_service or day
            if patient is not None and dose.ok:
                here = (patient, service, dose.code.product)
                if here in seen and not any(s.id == "duplicate-dispense" for s in mine):
                    mine.append(duplicate_stop(patient, service, [0]))
                seen.add(here)
            doses.append(replace(dose, stops=tuple(mine)))
            found += [replace(s, message=f"dose {number}: {s.message}") for s in mine]
        return replace(result, plans=tuple(doses)), tuple(found)

    def wanted(result: SupplyPlan, granted: Override | None) -> list[Dispense]:
        doses = request.get("doses")
        assert isinstance(doses, list)  # plan_supply checked it
        return [
            Dispense(
                {v.lot: v.count for v in dose.vials},
                dose.order.patient_id,
                dict(order),
                dose.to_dict(),
                None,
                dose.order.date_of_service or day,
                dose.code.product,
                granted,
            )
            for dose, order in zip(result.plans, doses, strict=True)
        ]

    return _dispensing(shelf, where, user, day, planned, stops_of, wanted, reason)


def scoped_key(user: str, key: str) -> str:
    """A request key as the ledger keeps it: the caller's own (two users' equal keys
    are two requests), as the SHA-256 of the user and the key."""
    if not isinstance(key, str) or not key.strip() or not key.isprintable() or len(key) > 64:
        raise InputError(
            "Idempotency-Key", "printable text of at most 64 characters", Described("other text")
        )
    return hashlib.sha256(f"{user}\x00{key.strip()}".encode()).hexdigest()


def shown_vials(vials: object, field: str = "vials") -> dict[str, int]:
    """The selection shown for a dispense, as lot -> vials: a list of ``{"lot",
    "count"}`` (as ``/api/shelf/plan`` answers in ``vials``; other keys of those
    records are allowed) or a mapping of lot to count.  Each lot once, each
    count a whole number >= 1."""
    if isinstance(vials, Mapping):
        vials = [{"lot": lot, "count": count} for lot, count in vials.items()]
    if not isinstance(vials, list | tuple) or not vials:
        raise InputError(field, "a non-empty list of {lot, count}", vials)
    if len(vials) > MAX_SHOWN_LOTS:
        raise InputError(field, f"at most {MAX_SHOWN_LOTS} lots", Described(f"{len(vials)}"))
    chosen: dict[str, int] = {}
    for index, record in enumerate(vials):
        where = f"{field}[{index}]"
        if not isinstance(record, Mapping):
            raise InputError(where, "an object {lot, count}", record)
        lot, count = record.get("lot"), record.get("count")
        if not isinstance(lot, str) or not lot.strip() or len(lot) > 64:
            raise InputError(f"{where}.lot", "a lot number (text of at most 64 characters)", lot)
        if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= 10_000:
            raise InputError(f"{where}.count", "a whole number of vials from 1 to 10,000", count)
        if lot in chosen:
            raise InputError(f"{where}.lot", "each lot once", Described(f"lot {lot} again"))
        chosen[lot] = count
    return chosen


def _second_dispense(
    shelf: Shelf, result: Plan, patient: str | None, day: dt.date
) -> tuple[Stop, ...]:
    """The stop for a drug the patient already has dispensed for the date of service."""
    if patient is None or not result.ok:
        return ()
    service = result.order.date_of_service or day
    found = shelf.dispensed_for(patient, service, result.code.product)
    return (duplicate_stop(patient, service, found),) if found else ()


def _granted(
    stops: Sequence[Stop], reason: str | None, user: str, shown: Dispensed
) -> Override | None:
    """The override recorded for ``stops``; :class:`Stopped` (with the plan
    ``shown``) when there are stops and no reason to override them."""
    if not stops:
        if reason is not None:  # never dropped without a word: nothing to override
            raise InputError(
                "override",
                "given only when the plan has a stop to override (this one has none): "
                "nothing was dispensed",
                Described("a reason"),
            )
        return None
    if reason is None:
        raise Stopped(stops, shown)
    return Override(reason, user, tuple(dict.fromkeys(s.id for s in stops)))


def _dispensing(
    shelf: Shelf,
    site: str,
    user: str | None,
    day: dt.date,
    planned: Callable[[tuple[Lot, ...]], P],
    stops_of: Callable[[P], tuple[P, tuple[Stop, ...]]],
    wanted: Callable[[P, Override | None], list[Dispense]],
    reason: str | None,
) -> Dispensed:
    result, stops = stops_of(planned(tuple(lot for lot in shelf.stock(site) if lot.count)))
    if user is None or not result.ok:
        return Dispensed(result, stops=stops, today=day)
    granted = _granted(stops, reason, user, Dispensed(result, stops=stops, today=day))
    try:
        return _recorded(shelf, result, wanted(result, granted), user, site, "", stops, day)
    except StockChanged as lost:
        changed, short = _what_changed(lost), lost.short
    again, stops = stops_of(planned(tuple(lot for lot in shelf.stock(site) if lot.count)))
    if not again.ok:
        raise StockChanged(
            f"{changed}; what is left cannot make the dose: nothing was dispensed", short
        )
    granted = _granted(stops, reason, user, Dispensed(again, (), changed, stops=stops, today=day))
    try:
        return _recorded(shelf, again, wanted(again, granted), user, site, changed, stops, day)
    except StockChanged as twice:
        raise StockChanged(
            f"{changed}, and again while planning from what was left "
            f"({_what_changed(twice)}): nothing was dispensed; plan again",
            twice.short,
        ) from None


def _dispense_shown(
    shelf: Shelf,
    site: str,
    user: str | None,
    day: dt.date,
    shown: Mapping[str, int],
    planned: Callable[[tuple[Lot, ...]], Plan],
    stops_of: Callable[[Plan], tuple[Plan, tuple[Stop, ...]]],
    wanted: Callable[[Plan, Override | None], list[Dispense]],
    reason: str | None,
    order: Mapping[str, object],
    options: Mapping[str, Any],
) -> Dispensed:
    """Record exactly the ``shown`` vials, or say what changed (:class:`ShownChanged`)."""
    stock = {lot.lot: lot for lot in shelf.stock(site)}
    for index, lot in enumerate(shown):
        if lot not in stock:
            raise InputError(f"vials[{index}].lot", "a lot on the shelf at this site", lot)
    now_plan, now_stops = stops_of(planned(tuple(lot for lot in stock.values() if lot.count)))
    now = Dispensed(now_plan, stops=now_stops, today=day)
    if now_plan.ok and {v.lot: v.count for v in now_plan.vials} == dict(shown):
        result, stops = now_plan, now_stops  # still the plan: the common case
    else:
        changes, short = [], {}
        judged = now_plan.expiry_day or day
        for lot, count in shown.items():
            held = stock[lot]
            if held.count < count:
                short[lot] = (held.count, count)
                changes.append(
                    f"lot {lot} has {counted(held.count, 'vial')} left, {_were(count)} shown"
                )
            if held.expires is not None and held.expires < judged:
                changes.append(
                    f"lot {lot} expired on {held.expires.isoformat()} (expiry judged on "
                    f"{judged.isoformat()})"
                )
        if changes:
            raise ShownChanged(
                "the shelf changed since the plan was shown: "
                + "; ".join(changes)
                + ": nothing was dispensed; here is the plan from the shelf now",
                short,
                now,
            )
        exact = plan_shown(
            order,
            shown,
            inventory=tuple(stock.values()),
            today=day,
            leaves=day,
            **{k: v for k, v in options.items() if k != "engine"},  # no search: no engine
        )
        note = "these are the vials shown when the order was planned; planned now, the shelf " + (
            f"would give {_described(now_plan)}" if now_plan.ok else "has no plan for it"
        )
        result, stops = stops_of(replace(exact, warnings=(*exact.warnings, note)))
    if user is None:
        return Dispensed(result, stops=stops, today=day)
    granted = _granted(stops, reason, user, Dispensed(result, stops=stops, today=day))
    try:
        return _recorded(shelf, result, wanted(result, granted), user, site, "", stops, day)
    except StockChanged as lost:
        raise ShownChanged(
            f"{_what_changed(lost)}: nothing was dispensed; plan again from the shelf",
            lost.short,
            None,
        ) from None


def _described(result: Plan) -> str:
    """A plan's vials in words: "1 x JV5M07, 1 x JV3D08"."""
    return ", ".join(f"{v.count} x {v.lot}" for v in result.vials)


def _recorded(
    shelf: Shelf,
    result: P,
    wanted: list[Dispense],
    user: str,
    site: str,
    changed: str,
    stops: tuple[Stop, ...],
    day: dt.date,
) -> Dispensed:
    ids = shelf.dispense_all(wanted, user=user, site=site, today=day)
    return Dispensed(
        result,
        tuple(ids),
        changed,
        user,
        tuple(d.patient for d in wanted),
        stops,
        wanted[0].override if wanted else None,
        day,
    )


def _what_changed(lost: StockChanged) -> str:
    return "another dispense took vials first: " + ", ".join(
        f"lot {lot} has {counted(left, 'vial')} left, {_were(asked)} planned"
        for lot, (left, asked) in sorted(lost.short.items())
    )


def _were(count: int) -> str:
    """ "1 was", "2 were": how many vials a plan named."""
    return f"{count} {'was' if count == 1 else 'were'}"


def _site(ordered: object, given: str | None) -> str:
    named = _text(ordered)
    given = given.strip() if given else given
    if named is not None and given and named != given:
        raise InputError("site", "the order's own site (or no --site)", Described("another"))
    return named or given or ""


def _text(value: object) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None
