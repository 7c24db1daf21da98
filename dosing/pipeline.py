"""The plan pipeline: order -> amount -> vials -> what is given, discarded and billed.

``plan(order)`` composes the pieces (docs/design.md "Python API"): the order gives
the amount (:mod:`dosing.orders`), :func:`optimizer.select` picks the vials
from the lots usable on the date of service, and :mod:`dosing.billing.claims` writes
the claim lines.  The returned :class:`Plan`'s ``to_dict()`` is the plan JSON.

What each amount means:

* whole_vials: every chosen vial is given whole; administered = dispensed,
  nothing discarded;
* exact_dose: the ordered amount is drawn exactly, from the vials in order
  (earliest expiry first); the rest of the last vial is discarded.

``deviation_pct`` is administered against ordered, in percent, rounded to
two decimals (0 for an exact dose).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path

from dosing.billing.catalog import load_catalog
from dosing.billing.claims import ClaimLine, NdcAmount, Setting, claim_lines
from dosing.billing.codesets import BillingCode, CodeSet, load_code_set
from dosing.billing.crosswalk import Crosswalk
from dosing.billing.mue import Mue
from dosing.billing.ndc import normalize_ndc
from dosing.billing.payers import PayerProfile, load_payer
from dosing.billing.units import equivalent_units, units_for
from dosing.errors import InputError
from dosing.identity import SortedShelf, sort_shelf
from dosing.orders import DoseCalculation, Order, parse_order
from dosing.stops import Stop
from optimizer import Lot, Mode, Selection, SelectionResult, Tolerance, select
from optimizer.errors import Described, FieldError
from optimizer.numbers import floor_div, format_amount, to_json_number
from optimizer.result import Pick, Status
from optimizer.select import DEFAULT_RESOLUTION_PCT

__all__ = ["Plan", "PlannedVials", "Prepared", "assemble", "plan", "plan_shown", "prepare"]

DEFAULT_TOLERANCE = Tolerance(Fraction(10), Fraction(10))


@dataclass(frozen=True)
class PlannedVials:
    """``count`` vials of one lot, with its NDC in the 11-digit claim form."""

    lot: str
    ndc: str | None
    amount: Fraction
    count: int
    expires: dt.date | None

    def to_dict(self) -> dict[str, object]:
        return {
            "ndc": self.ndc,
            "lot": self.lot,
            "amount": to_json_number(self.amount),
            "count": self.count,
            "expires": self.expires.isoformat() if self.expires else None,
        }


@dataclass(frozen=True)
class Draw:
    """What to draw from the partly used vial of an exact dose: ``volume_ml`` of the
    ``vial_ml`` it was reconstituted in, holding ``amount``."""

    lot: str
    volume_ml: Fraction
    vial_ml: Fraction
    amount: Fraction
    step_ml: Fraction

    def to_dict(self) -> dict[str, object]:
        return {
            "lot": self.lot,
            "volume_ml": to_json_number(self.volume_ml),
            "vial_ml": to_json_number(self.vial_ml),
            "amount": float(self.amount),
            "step_ml": to_json_number(self.step_ml),
        }


@dataclass(frozen=True)
class Plan:
    """A planned dose: the fields of the plan JSON, plus what the worksheet shows."""

    status: str  # ok | infeasible
    order: Order
    code: BillingCode
    code_set: str
    calculation: DoseCalculation
    tolerance: Tolerance
    selection: SelectionResult
    vials: tuple[PlannedVials, ...] = ()
    dispensed: Fraction | None = None
    administered: Fraction | None = None
    discarded: Fraction | None = None
    claim_lines: tuple[ClaimLine, ...] = ()
    equivalent_units: Mapping[str, int] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    payer: PayerProfile | None = None
    #: why nothing on the shelf is the ordered drug ("" when something is)
    shelf_reason: str = ""
    #: the ordered drug in words: "Jivi (J7208)"
    drug: str = ""
    #: an exact dose's draw from its partly used vial, when its volume is known
    draw: Draw | None = None
    #: each planned lot's reconstituted volume per vial (mL), where known
    volumes: Mapping[str, Fraction] = field(default_factory=dict)
    #: the closest selection (least deviation or discard), when the resolution chose
    #: another with fewer vials
    closest: Selection | None = None
    #: what a pharmacist must override before these vials are dispensed (dosing.stops)
    stops: tuple[Stop, ...] = ()
    #: the day the lots' expiry was judged on: the later of the date of service and
    #: the day the vials leave the shelf (docs/design.md "Bench safety")
    expiry_day: dt.date | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def ordered(self) -> Fraction:
        return self.calculation.amount

    @property
    def mode(self) -> Mode:
        return self.selection.mode

    @property
    def reason(self) -> str:
        """Why there is no plan ("" when there is one), with the unit named."""
        if self.shelf_reason and not self.ok:
            return self.shelf_reason
        reason = self.selection.reason
        return f"{reason} (amounts in {self.code.unit})" if reason else ""

    @property
    def infusion_ml(self) -> Fraction | None:
        """The volume given: every whole vial's plus the draw, when all are known."""
        if not self.ok or any(v.lot not in self.volumes for v in self.vials):
            return None
        whole = sum((self.volumes[v.lot] * v.count for v in self.vials), Fraction(0))
        if self.draw is None:
            return whole if self.mode is Mode.WHOLE_VIALS else None
        return whole - self.draw.vial_ml + self.draw.volume_ml

    @property
    def deviation_pct(self) -> float | None:
        if self.administered is None:
            return None
        return _pct(self.administered, self.ordered)

    def to_dict(self) -> dict[str, object]:
        """The plan JSON of docs/design.md (plus ``window``, ``warnings`` and, when
        infeasible, ``reason`` and ``nearest``)."""
        low, high = self.selection.window
        data: dict[str, object] = {
            "status": self.status,
            "code": self.code.code,
            "code_set": self.code_set,
            "unit": {"amount": to_json_number(self.code.unit_amount), "of": self.code.unit},
            "mode": self.mode.value,
            "ordered": float(self.ordered),
            "dispensed": _float(self.dispensed),
            "administered": _float(self.administered),
            "discarded": _float(self.discarded),
            "deviation_pct": self.deviation_pct,
            "vials": [v.to_dict() for v in self.vials],
            "claim_lines": [line.to_dict() for line in self.claim_lines],
            "equivalent_units": dict(self.equivalent_units),
            "alternatives": [
                _option(s, self.ordered, self.mode, self.code) for s in self.selection.alternatives
            ],
            "closest": _option(self.closest, self.ordered, self.mode, self.code),
            "window": {"low": float(low), "high": float(high)},
            "payer": self.payer.name if self.payer else None,
            "patient_id": self.order.patient_id,
            "draw": self.draw.to_dict() if self.draw else None,
            "infusion_ml": _float(self.infusion_ml),
            "expiry_as_of": self.expiry_day.isoformat() if self.expiry_day else None,
            "stops": [stop.to_dict() for stop in self.stops],
            "warnings": list(self.warnings),
        }
        if not self.ok:
            data["reason"] = self.reason
            data["nearest"] = {
                "below": _option(self.selection.below, self.ordered),
                "above": _option(self.selection.above, self.ordered),
            }
        return data


def plan(
    order: Order | Mapping[str, object],
    *,
    code_set: str | Path | None = None,
    base_dir: Path | None = None,
    today: dt.date | None = None,
    engine: str = "auto",
    crosswalk: Crosswalk | None = None,
    mue: Mapping[str, Mue] | None = None,
    inventory: Sequence[Lot] | None = None,
    leaves: dt.date | None = None,
) -> Plan:
    """Plan one dose.  ``order`` is the order JSON as a dict, or an :class:`Order`.
    ``inventory`` (the shelf's stock) stands in for the order's lots; an order
    dict given with it names none.

    ``engine`` is passed to :func:`optimizer.select` (``auto``, ``exact`` or
    ``cpsat``); the answer is the same, only the speed differs.

    Files named in the order (``inventory_file``, a code set or payer given as a
    path) are read only inside ``base_dir``; without it, only inline data and
    shipped names are accepted (:mod:`dosing.files`).  ``code_set`` overrides
    the order's: a shipped name, or a :class:`~pathlib.Path` the caller chose.

    Lots that expire before the date of service (or ``today``, default the
    system date, when the order has none) are never chosen, nor lots of another
    drug than the ordered one (:mod:`dosing.identity`; ``crosswalk`` links NDCs
    to codes).  ``mue`` (a CMS MUE table, :mod:`dosing.billing.mue`) applies over
    the payer profile's MUEs.

    ``leaves`` is the day the vials leave the shelf (a dispense: the site's
    today): lots are then judged on the later of it and the date of service, and
    a date of service before it is said.  Without it (planning from a file, which
    dispenses nothing) the date of service judges expiry.
    """
    if not isinstance(order, Order):
        order = parse_order(order, base_dir=base_dir, code_set=code_set, inventory=inventory)
    elif inventory is not None:
        order = replace(order, inventory=tuple(inventory))
    prepared = prepare(
        order,
        code_set=code_set,
        today=today,
        base_dir=base_dir,
        crosswalk=crosswalk,
        mue=mue,
        leaves=leaves,
    )

    def choose(lots: Sequence[Lot], resolution: Fraction, mode: Mode) -> SelectionResult:
        try:
            return select(
                prepared.calculation.amount,
                lots,
                tolerance=prepared.tolerance,
                mode=mode,
                max_vials=order.max_vials,
                as_of=prepared.expiry_day,
                engine=engine,
                time_limit=float(order.time_limit),
                resolution_pct=resolution,
            )
        except FieldError as exc:
            raise InputError(exc.field, exc.expected, exc.got) from None

    brands = _brands(prepared.shelf)
    if len(brands) > 1:
        picked = _one_brand(brands, choose, prepared.resolution_pct, order.mode)
        if picked is not None:
            return assemble(prepared, picked[0], extra=(picked[1],))
        note = (
            f"no one product of {prepared.code.code} can make this dose: vials of "
            f"{', '.join(brands)} are mixed; check that they may be given together"
        )
        result = choose(prepared.shelf.usable, prepared.resolution_pct, order.mode)
        return assemble(prepared, result, extra=(note,) if result.ok else ())
    result = choose(prepared.shelf.usable, prepared.resolution_pct, order.mode)
    return replace(assemble(prepared, result), closest=result.closest)


#: The engine a plan of the vials shown names (no search: the vials were chosen).
SHOWN = "shown"


def plan_shown(
    order: Mapping[str, object],
    chosen: Mapping[str, int],
    *,
    inventory: Sequence[Lot],
    code_set: str | Path | None = None,
    base_dir: Path | None = None,
    today: dt.date | None = None,
    crosswalk: Crosswalk | None = None,
    mue: Mapping[str, Mue] | None = None,
    leaves: dt.date | None = None,
) -> Plan:
    """The plan of exactly the vials ``chosen`` (lot -> count) from ``inventory``
    for ``order``: no search, the same amounts, claim lines, warnings and stops
    as any plan.  The mode is the order's; for ``auto``, whole vials when the
    total is within the tolerance window (as a plan that showed them would have
    chosen), else an exact dose.  A lot not usable for the order (another drug,
    expired on the day judged), vials of two products, or a selection that does
    not meet the order is an :class:`InputError` naming ``vials``."""
    parsed = parse_order(order, base_dir=base_dir, code_set=code_set, inventory=inventory)
    prepared = prepare(
        parsed,
        code_set=code_set,
        today=today,
        base_dir=base_dir,
        crosswalk=crosswalk,
        mue=mue,
        leaves=leaves,
    )
    usable = {lot.lot: lot for lot in prepared.shelf.usable}
    day = prepared.expiry_day
    for index, (lot, count) in enumerate(chosen.items()):
        held = usable.get(lot)
        if held is None:
            raise InputError(
                f"vials[{index}].lot", f"a lot of the ordered {prepared.shelf.ordered}", lot
            )
        if held.expires is not None and held.expires < day:
            raise InputError(
                f"vials[{index}].lot",
                f"a lot not expired on {day.isoformat()}",
                Described(f"lot {lot}, expired on {held.expires.isoformat()}"),
            )
        if count > held.count:
            raise InputError(
                f"vials[{index}].count", f"at most the {held.count} vials of lot {lot}", count
            )
    products = {
        prepared.shelf.products[lot].name for lot in chosen if lot in prepared.shelf.products
    }
    if len(products) > 1:
        raise InputError(
            "vials", "vials of one product (a dose is not made of several brands)",
            Described(", ".join(sorted(products))),
        )  # fmt: skip
    place = {lot.lot: i for i, lot in enumerate(prepared.shelf.usable)}
    by_expiry = sorted(
        (usable[lot] for lot in chosen), key=lambda x: (x.expires or dt.date.max, place[x.lot])
    )
    target = prepared.calculation.amount
    selection = Selection(tuple(Pick(lot, chosen[lot.lot]) for lot in by_expiry), target)
    window = prepared.tolerance.window(target)
    mode = parsed.mode
    if mode is Mode.AUTO:
        mode = Mode.WHOLE_VIALS if window[0] <= selection.total <= window[1] else Mode.EXACT_DOSE
    meets = (
        window[0] <= selection.total <= window[1]
        if mode is Mode.WHOLE_VIALS
        else selection.total >= target
    )
    if not meets or (parsed.max_vials and selection.vials > parsed.max_vials):
        raise InputError(
            "vials",
            f"vials that make the order in {mode.value} (a plan's own selection)",
            Described(f"{format_amount(selection.total)} {prepared.code.unit} in "
                      f"{selection.vials} vials"),
        )  # fmt: skip
    result = SelectionResult(Status.FEASIBLE, mode, target, window, selection, engine=SHOWN)
    return assemble(prepared, result)


def _brands(shelf: SortedShelf) -> dict[str, tuple[Lot, ...]]:
    """The usable lots by catalog product, when a class code (J7192) finds several
    on the shelf; lots of unverified identity go with each.  Empty otherwise."""
    by_product: dict[str, list[Lot]] = {}
    unknown = []
    for lot in shelf.usable:
        product = shelf.products.get(lot.lot)
        if product is None:
            unknown.append(lot)
        else:
            by_product.setdefault(product.name, []).append(lot)
    if len(by_product) < 2:
        return {}
    return {name: (*lots, *unknown) for name, lots in by_product.items()}


def _one_brand(
    brands: Mapping[str, tuple[Lot, ...]],
    choose: Callable[[Sequence[Lot], Fraction, Mode], SelectionResult],
    resolution: Fraction,
    mode: Mode,
) -> tuple[SelectionResult, str] | None:
    """The dose from one product's lots (a patient's dose is not made of several
    brands): the selection rule over every product's selections at once.  Each
    product's closest (or least discard) is found first; the least of them and
    the resolution bound the near set; each product's best inside it is asked for
    (its own resolution narrowed to that bound), and the fewest vials, then the
    nearest, win.  None when no single product can make the dose."""
    closest = {name: choose(lots, Fraction(0), mode) for name, lots in brands.items()}
    feasible = {name: r for name, r in closest.items() if r.ok}
    if not feasible:
        return None
    modes = {r.mode for r in feasible.values()}
    used = Mode.WHOLE_VIALS if Mode.WHOLE_VIALS in modes else Mode.EXACT_DOSE
    target = next(iter(feasible.values())).target

    def miss(result: SelectionResult) -> Fraction:
        assert result.selection is not None
        return abs(result.selection.deviation)

    best = {name: r for name, r in feasible.items() if r.mode is used}
    least = min(miss(r) for r in best.values())
    reach = least + target * resolution / 100
    candidates = []
    for name, result in best.items():
        room = reach - miss(result)
        if room < 0:
            continue
        narrowed = choose(brands[name], room / target * 100, used)
        assert narrowed.selection is not None
        chosen = narrowed.selection
        candidates.append(
            ((chosen.vials, miss(narrowed), int(chosen.total < target)), name, narrowed)
        )
    _, name, result = min(candidates, key=lambda c: c[0])
    others = ", ".join(n for n in brands if n != name)
    return result, (
        f"{name} only: a dose is made from one product (also on the shelf for this code: "
        f"{others}); name the order's product to choose another"
    )


@dataclass(frozen=True)
class Prepared:
    """An order with everything looked up that selection and billing need."""

    order: Order
    table: CodeSet
    code: BillingCode
    calculation: DoseCalculation
    payer: PayerProfile | None
    tolerance: Tolerance
    day: dt.date
    ndcs: Mapping[str, str]
    shelf: SortedShelf
    resolution_pct: Fraction = Fraction(DEFAULT_RESOLUTION_PCT)
    #: the day the vials leave the shelf, when they do (a dispense)
    leaves: dt.date | None = None

    @property
    def expiry_day(self) -> dt.date:
        """The day expiry is judged on: the later of the date of service and the
        day the vials leave the shelf (when they do)."""
        return max(self.day, self.leaves) if self.leaves is not None else self.day


def prepare(
    order: Order,
    *,
    code_set: str | Path | None = None,
    today: dt.date | None = None,
    lots: Sequence[Lot] | None = None,
    base_dir: Path | None = None,
    crosswalk: Crosswalk | None = None,
    mue: Mapping[str, Mue] | None = None,
    leaves: dt.date | None = None,
) -> Prepared:
    """Look up the order's code, amount, payer, tolerance and NDCs (of ``lots``,
    default the order's inventory), checking each, and sort the lots by drug
    identity.  Code sets and payer profiles given as paths in the order are read
    only inside ``base_dir``."""
    payer = load_payer(order.payer, base_dir=base_dir) if order.payer else None
    if payer is not None and mue:
        payer = payer.with_mue(mue)
    table = load_code_set(code_set or order.code_set, base_dir=base_dir)
    code = table.lookup(order.code)
    if payer is not None and payer.code_set is not None and table.name != payer.code_set:
        table, code = _as_the_payer_reads(code, table, payer)
    products = load_catalog().for_code(code)
    recovery = products[0].recovery if len(products) == 1 else None
    calculation = order.dose_for(
        code, recovery=recovery, product=products[0].name if recovery else ""
    )
    tolerance = order.tolerance or (payer.dispensing_tolerance if payer else DEFAULT_TOLERANCE)
    shelf_lots = order.inventory if lots is None else lots
    ndcs = {
        lot.lot: normalize_ndc(lot.ndc, field=f"inventory lot {lot.lot}: ndc")
        for lot in shelf_lots
        if lot.ndc is not None
    }
    shelf = sort_shelf(shelf_lots, code, product=order.product, crosswalk=crosswalk)
    if mue and payer is None:
        shelf = replace(
            shelf, notes=("an MUE table was given, but the order names no payer: not applied",)
        )
    day = order.date_of_service or today or leaves or dt.date.today()
    resolution = order.resolution_pct
    if resolution is None:
        resolution = payer.resolution_pct if payer and payer.resolution_pct is not None else None
    return Prepared(
        order,
        table,
        code,
        calculation,
        payer,
        tolerance,
        day,
        ndcs,
        shelf,
        Fraction(DEFAULT_RESOLUTION_PCT) if resolution is None else resolution,
        leaves,
    )


def _as_the_payer_reads(
    code: BillingCode, table: CodeSet, payer: PayerProfile
) -> tuple[CodeSet, BillingCode]:
    """The payer's own code set, when it reads ``code`` as the same product;
    otherwise the order is refused, naming the code the payer reads as that product
    (docs/billing.md section 1: a claim must not bill another drug's code)."""
    theirs = load_code_set(payer.code_set)
    same = theirs.get(code.code)
    if same is not None and same.product == code.product:
        return theirs, same
    read_as = f"{same.descriptor}, per {same.unit_label}" if same else "not a code it knows"
    right = [c for c in theirs if c.product == code.product]
    hint = (
        f"; the ordered {code.descriptor} is {right[0].code} there, per {right[0].unit_label}"
        if right
        else ""
    )
    raise InputError(
        "code",
        f"a code {payer.name} reads as the ordered product (code set {theirs.name})",
        Described(f"{code.code}, which {payer.name} reads as {read_as}{hint}"),
    )


def assemble(prepared: Prepared, result: SelectionResult, extra: Sequence[str] = ()) -> Plan:
    """The plan for a prepared order and its vial selection: amounts, claim lines,
    warnings and stops (``extra``: notes on how the vials were chosen)."""
    order, code, payer = prepared.order, prepared.code, prepared.payer
    stops = _label_limits(prepared)
    chosen_unverified = [
        lot for lot in prepared.shelf.unverified if result.selection is not None
        and any(p.lot.lot == lot.lot for p in result.selection.picks)
    ]  # fmt: skip
    if chosen_unverified:
        stops.append(Stop("unverified-lot", prepared.shelf.unverified_note(chosen_unverified)))
    warnings = [
        *extra,
        *prepared.shelf.warnings(unverified=not chosen_unverified),
        *_warnings(order, result, code, prepared),
        *_label_notes(prepared),
    ]
    kx = False
    if payer is not None and payer.kx_required:
        missing = [name for name in payer.kx_documentation if not order.documented(name)]
        kx = not missing
        if missing:
            warnings.append(
                f"payer {payer.name} requires KX, but the order does not document "
                f"{', '.join(missing)}: KX not appended"
            )

    def built(status: str, **amounts: object) -> Plan:
        return Plan(
            status=status,
            order=order,
            code=code,
            code_set=prepared.table.name,
            calculation=prepared.calculation,
            tolerance=prepared.tolerance,
            selection=result,
            warnings=tuple(warnings),
            payer=payer,
            shelf_reason=prepared.shelf.reason(),
            drug=prepared.shelf.ordered,
            stops=tuple(stops),
            expiry_day=prepared.expiry_day,
            **amounts,  # type: ignore[arg-type]
        )

    if result.selection is None:
        return built("infeasible")
    chosen = result.selection
    dispensed = chosen.total
    administered = dispensed if result.mode is Mode.WHOLE_VIALS else prepared.calculation.amount
    vials = tuple(
        PlannedVials(p.lot.lot, prepared.ndcs.get(p.lot.lot), p.lot.amount, p.count, p.lot.expires)
        for p in chosen.picks
    )
    if result.mode is Mode.EXACT_DOSE and len(vials) > 1:
        # the vial opened (drawn in part) is the smallest: a syringe step holds the
        # least of it, so the draw lands nearest the order
        smallest = min(range(len(vials)), key=lambda i: (vials[i].amount, -i))
        vials = (*vials[:smallest], *vials[smallest + 1 :], vials[smallest])
    volumes = _volumes(prepared, [p.lot for p in chosen.picks])
    draw = None
    if result.mode is Mode.EXACT_DOSE:
        draw = _draw(vials[-1], volumes.get(vials[-1].lot), dispensed, administered, order)
        if draw is not None and draw.amount != administered - (dispensed - vials[-1].amount):
            administered = dispensed - vials[-1].amount + draw.amount
            warnings.append(
                f"the draw is rounded to the syringe's {format_amount(draw.step_ml)} mL: "
                f"{format_amount(administered)} {code.unit} is given and billed, not the "
                f"{format_amount(prepared.calculation.amount)} ordered"
            )
        elif draw is None:
            warnings.append(
                f"the volume of lot {vials[-1].lot}'s vials is not known (no catalog volume, no "
                "volume_ml): draw the amount by its share of the vial's volume"
            )
    if not 0 <= administered <= dispensed:  # a bug, never a claim: refuse to bill it
        raise AssertionError("administered must lie between 0 and what was dispensed")
    sources = _sources(vials, dispensed - administered, volumes)
    billed = administered if order.setting is Setting.ADMINISTERED else dispensed
    lines = claim_lines(
        code,
        sources,
        order.setting,
        jw_jz=payer.uses_jw_jz(order.setting.value) if payer else None,
        kx=kx,
        unit_limit=payer.unit_limit(code.code) if payer else None,
        multi_ndc=payer.multi_ndc if payer else "line_per_ndc",
        ndc_unit=payer.ndc_unit(code.unit) if payer else None,
        modifier_340b=payer.modifier_340b if payer and _is_340b(order, payer) else None,
    )
    warnings.extend(_billing_notes(order, payer, code, lines))
    return built(
        "ok",
        draw=draw,
        volumes=volumes,
        vials=vials,
        dispensed=dispensed,
        administered=administered,
        discarded=dispensed - administered,
        claim_lines=lines,
        equivalent_units=equivalent_units(billed, code, code_set=prepared.table),
    )


def _volumes(prepared: Prepared, lots: Sequence[Lot]) -> dict[str, Fraction]:
    """Each lot's reconstituted volume per vial: its own ``volume_ml`` only.  The
    catalog's volume is the one package a source lists, strength not stated
    (Kovaltry's larger vials take twice the diluent): drawing by it could halve a
    dose."""
    return {lot.lot: lot.volume_ml for lot in lots if lot.volume_ml is not None}


def _draw(
    last: PlannedVials,
    vial_ml: Fraction | None,
    dispensed: Fraction,
    administered: Fraction,
    order: Order,
) -> Draw | None:
    """The volume to draw from the last vial for an exact dose, rounded half up to
    the syringe step (at least one step, at most the vial), and what it holds.
    A vial holding less than one step is given whole: never more than it holds."""
    if vial_ml is None:
        return None
    need = administered - (dispensed - last.amount)  # from the opened vial
    step = order.draw_step_ml
    most = int(vial_ml / step)  # whole steps the vial holds
    if most == 0:
        return Draw(last.lot, vial_ml, vial_ml, last.amount, step)
    steps = need * vial_ml / last.amount / step
    whole = max(1, min(int(steps + Fraction(1, 2)), most))
    volume = whole * step
    return Draw(last.lot, volume, vial_ml, last.amount * volume / vial_ml, step)


def _sources(
    vials: tuple[PlannedVials, ...],
    discarded: Fraction,
    volumes: Mapping[str, Fraction],
) -> list[NdcAmount]:
    """Amount dispensed and administered per NDC, in the order the vials are used,
    with the vial count and (when the catalog knows it) each vial's diluent volume;
    the discard comes out of the last vial drawn."""
    dispensed: dict[str | None, Fraction] = {}
    counts: dict[str | None, int] = {}
    volume: dict[str | None, set[Fraction | None]] = {}
    for v in vials:
        dispensed[v.ndc] = dispensed.get(v.ndc, Fraction(0)) + v.amount * v.count
        counts[v.ndc] = counts.get(v.ndc, 0) + v.count
        volume.setdefault(v.ndc, set()).add(volumes.get(v.lot))
    last = vials[-1].ndc
    return [
        NdcAmount(
            ndc,
            amount,
            amount - (discarded if ndc == last else 0),
            counts[ndc],
            next(iter(volume[ndc])) if len(volume[ndc]) == 1 else None,
        )
        for ndc, amount in dispensed.items()
    ]


def _is_340b(order: Order, payer: PayerProfile) -> bool:
    return order.acquired_340b or payer.all_claims_340b


def _billing_notes(
    order: Order, payer: PayerProfile | None, code: BillingCode, lines: Sequence[ClaimLine]
) -> list[str]:
    """What the claim lines need a person to look at (docs/billing.md sections 6, 9)."""
    notes = []
    if order.acquired_340b and (payer is None or payer.modifier_340b is None):
        who = f"payer {payer.name}'s profile names" if payer else "without a payer, the plan has"
        notes.append(f"the drug is 340B-acquired, but {who} no 340B modifier: add it by hand")
    if payer is not None:
        mue = payer.date_mue(code.code)
        total = sum(line.units for line in lines)
        if mue is not None and mue.units == 0:
            notes.append(
                f"CMS lists an MUE of 0 for {code.code}: {payer.name} does not pay it; "
                "confirm the code before billing"
            )
        elif mue is not None and total > mue.units:
            notes.append(
                f"{total:,} units of {code.code} exceed its MUE of {mue.units:,} per date of "
                f"service (MAI {mue.mai}): {payer.name} will deny the excess unless the record "
                "supports it on appeal"
            )
    for line in lines:
        if line.ndc and line.ndc_quantity is None:
            qualifier = payer.ndc_unit(code.unit) if payer else "F2"
            notes.append(
                f"the NDC quantity in {qualifier} cannot be told for NDC {line.ndc} "
                "(no diluent volume in the catalog): enter it by hand"
            )
            break
    if any(len(line.narrative) > 80 for line in lines):
        notes.append("the NDC narrative is longer than the 80 characters of loop 2400 NTE")
    return notes


def _warnings(
    order: Order, result: SelectionResult, code: BillingCode, prepared: Prepared
) -> tuple[str, ...]:
    unit, day, tolerance = code.unit, prepared.expiry_day, prepared.tolerance
    notes = []
    if prepared.leaves is not None and prepared.day < prepared.leaves:
        notes.append(
            f"the date of service {prepared.day.isoformat()} is before today "
            f"({prepared.leaves.isoformat()}): the vials leave the shelf today and their "
            "expiry is judged today; the claim keeps the date of service given"
        )
    for lot in result.expired:
        assert lot.expires is not None
        notes.append(
            f"lot {lot.lot} expired on {lot.expires.isoformat()} (before "
            f"{day.isoformat()}): set aside"
        )
    if order.mode is Mode.AUTO and result.mode is Mode.EXACT_DOSE and result.ok:
        low, high = tolerance.window(result.target)
        notes.append(
            f"no whole-vial combination within {format_amount(low)}–"
            f"{format_amount(high)} {unit}: the exact dose is drawn and the rest "
            "discarded"
        )
    if result.ok and not result.proven_optimal and result.engine != SHOWN:
        notes.append(
            "the solver stopped at its time limit: this selection is the best "
            "found, not proven optimal"
        )
    if result.ok and any(p.lot.ndc is None for p in result.selection.picks):  # type: ignore[union-attr]
        notes.append("some vials have no NDC: payers that require NDCs will deny the line")
    return tuple(notes)


#: IU/kg above which a dose is questioned when the label states no maximum (a
#: surgical loading dose of Factor VIII or IX is rarely above 100 IU/kg).
PLAUSIBLE_IU_PER_KG = 100


def _label_notes(prepared: Prepared) -> list[str]:
    """What the label's recovery means for a young patient (a warning)."""
    if prepared.calculation.label_recovery and (
        prepared.order.age_years is None or prepared.order.age_years < 12
    ):
        return [
            "the dose uses the label's recovery for adults and adolescents (12 years and "
            "older); a younger child's is often lower: give the patient's observed `recovery`"
        ]
    return []


def _label_limits(prepared: Prepared) -> list[Stop]:
    """The ordered amount against the label's limits and the patient's age
    (docs/billing.md section 8): hard stops at the bench, which a pharmacist
    may override with a reason (:mod:`dosing.stops`); planning goes on."""
    stops = []
    amount, order = prepared.calculation.amount, prepared.order
    products = load_catalog().for_code(prepared.code)
    per_kg = amount / order.weight_kg if order.weight_kg is not None else None
    unit = prepared.code.unit
    limited = False
    for product in products:
        if product.max_dose is not None and amount > product.max_dose:
            stops.append(
                Stop(
                    "over-label-dose",
                    f"{format_amount(amount)} {unit} is above {product.name}'s labeled maximum "
                    f"of about {format_amount(product.max_dose)} {unit} per infusion: confirm "
                    "the order",
                )
            )
        if product.max_per_kg is not None:
            limited = True
            if per_kg is not None and per_kg > product.max_per_kg:
                stops.append(
                    Stop(
                        "over-label-per-kg",
                        f"{format_amount(per_kg)} {unit}/kg is above {product.name}'s labeled "
                        f"{format_amount(product.max_per_kg)} {unit}/kg: confirm the order",
                    )
                )
        if (
            order.age_years is not None
            and product.min_age_years is not None
            and order.age_years < product.min_age_years
        ):
            stops.append(
                Stop(
                    "under-label-age",
                    f"{product.name} is approved from {format_amount(product.min_age_years)} "
                    f"years of age; the patient is {format_amount(order.age_years)}: confirm "
                    "the product",
                )
            )
    if not limited and unit == "IU" and per_kg is not None and per_kg > PLAUSIBLE_IU_PER_KG:
        stops.append(
            Stop(
                "over-plausible-per-kg",
                f"{format_amount(per_kg)} IU/kg is above {PLAUSIBLE_IU_PER_KG} IU/kg, more "
                "than a loading dose: confirm the order and the weight",
            )
        )
    return stops


def _float(value: Fraction | None) -> float | None:
    return None if value is None else float(value)


def _option(
    selection: Selection | None,
    ordered: Fraction,
    mode: Mode | None = None,
    code: BillingCode | None = None,
) -> dict[str, object] | None:
    """An alternative selection; with its mode and code, what it trades: for whole
    vials the deviation, for an exact dose the discard (the dose is exact either
    way), and the units it would bill."""
    if selection is None:
        return None
    data: dict[str, object] = {
        "vials": selection.vials,
        "dispensed": float(selection.total),
        "deviation_pct": _pct(selection.total, ordered),
        "lots": selection.counts_by_lot(),
    }
    if mode is Mode.EXACT_DOSE:
        data["deviation_pct"] = 0.0
        data["discarded"] = float(selection.total - ordered)
    if code is not None and mode is not None:
        data["units"] = option_units(selection.total, ordered, mode, code)
    return data


def option_units(total: Fraction, ordered: Fraction, mode: Mode, code: BillingCode) -> int:
    """The units a selection of ``total`` bills: all of it given for whole vials;
    for an exact dose the given units plus the whole units left (JW)."""
    if mode is Mode.WHOLE_VIALS:
        return units_for(total, code)
    given = units_for(ordered, code)
    return given + max(0, floor_div(total - given * code.unit_amount, code.unit_amount))


def _pct(value: Fraction, ordered: Fraction) -> float:
    """``value`` against ``ordered`` in percent, two decimals (never ``-0.0``)."""
    return round(float((value - ordered) / ordered * 100), 2) + 0.0
