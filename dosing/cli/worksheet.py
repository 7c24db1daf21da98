"""The pharmacist's worksheet: a plan as text to follow at the bench."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from fractions import Fraction

from dosing.pipeline import Plan, option_units
from dosing.supply import SupplyPlan
from optimizer import Mode, Selection
from optimizer.numbers import counted, format_amount
from optimizer.supply import TAKEN_BY_OTHERS, SupplyResult

__all__ = ["format_gap", "supply_worksheet", "worksheet"]


def worksheet(plan: Plan) -> str:
    """The plan as a worksheet: who and what, the vials to pull (with their
    volumes), what to give and draw, the claim lines, what fewer vials would trade."""
    code, unit = plan.code, plan.code.unit
    order = plan.order

    def amount(value: Fraction) -> str:
        return f"{format_amount(value)} {unit}"

    low, high = plan.tolerance.window(plan.ordered)
    mode = (
        plan.mode.value if plan.mode is order.mode else f"{plan.mode.value} (asked: {order.mode})"
    )
    lines = [
        f"factordose plan: {code.code} {code.descriptor}, {code.unit_label} per billing unit "
        f"(code set {plan.code_set})",
    ]
    who = [f"patient {order.patient_id}"] if order.patient_id else []
    if order.age_years is not None:
        who.append(f"{format_amount(order.age_years)} years")
    if plan.payer:
        who.append(f"payer {plan.payer.name}")
    if who:
        lines.append(f"Patient:   {', '.join(who)}")
    tolerance = (
        "not used: the exact dose is drawn"
        if order.mode is Mode.EXACT_DOSE
        else f"{plan.tolerance} for whole vials, {amount(low)} to {amount(high)}"
    )
    lines += [
        f"Order:     {plan.calculation.how}",
        f"Tolerance: {tolerance}",
        f"Mode:      {mode}" + (f", at most {order.max_vials} vials" if order.max_vials else ""),
    ]
    judged = plan.expiry_day
    if order.date_of_service:
        service = order.date_of_service.isoformat()
        if judged is None or judged == order.date_of_service:
            lines.append(f"Date:      {service} (date of service; expiry judged on it)")
        else:
            lines.append(
                f"Date:      {service} (date of service); expiry judged on "
                f"{judged.isoformat()}, the day the vials leave the shelf"
            )
    else:
        day = judged or dt.date.today()
        lines.append(f"Date:      today, {day.isoformat()} (no date of service: used for expiry)")
    if plan.stops:
        lines += [
            "",
            "STOP: do not dispense without a pharmacist's override (with the reason):",
            *(f"  !! {stop.message} [{stop.id}]" for stop in plan.stops),
        ]
    lines.append("")
    if not plan.ok:
        lines.append(f"NO PLAN: {plan.reason}.")
        for label, option in (
            ("Nearest below", plan.selection.below),
            ("Nearest above", plan.selection.above),
        ):
            if option is not None:
                lines.append(f"  {label}: {_describe(option, plan.ordered, unit)}")
        nothing_near = plan.selection.below is None and plan.selection.above is None
        if nothing_near and TAKEN_BY_OTHERS not in plan.selection.reason:
            lines.append("  No selection of the vials on hand comes near the order.")
        lines += _warnings(plan)
        return "\n".join(lines) + "\n"

    lines.append("Pull these vials (use in this order, earliest expiry first):")
    for v in plan.vials:
        expires = f"exp {v.expires.isoformat()}" if v.expires else "no expiry given"
        ndc = f"NDC {v.ndc}" if v.ndc else "no NDC"
        volume = plan.volumes.get(v.lot)
        ml = f"  {format_amount(volume)} mL" if volume is not None else ""
        lines.append(
            f"  [ ] {v.count} x lot {v.lot:<10} {amount(v.amount):>12} each  "
            f"{ndc}  {expires}{ml}  = {amount(v.amount * v.count)}"
        )
    assert plan.dispensed is not None and plan.administered is not None
    vials = sum(v.count for v in plan.vials)
    lines.append(f"  Total: {amount(plan.dispensed)} in {vials} vial{'s' * (vials != 1)}")
    infusion = plan.infusion_ml
    if plan.mode is Mode.WHOLE_VIALS:
        deviation = plan.dispensed - plan.ordered
        to_infuse = f" ({format_amount(infusion)} mL to infuse)" if infusion is not None else ""
        lines.append(
            f"Give the whole content of every vial: {amount(plan.administered)}{to_infuse}, "
            f"{_signed(deviation, unit)} ({plan.deviation_pct:+.2f}%) from the order."
        )
    else:
        assert plan.discarded is not None
        last = plan.vials[-1]
        draw = plan.draw
        if draw is not None:
            full = vials - 1
            first = "the first vial" if full == 1 else f"all of the first {full} vials"
            before = f"{first}, then " if full else ""
            lines.append(
                f"Draw {before}{format_amount(draw.volume_ml)} mL of the "
                f"{format_amount(draw.vial_ml)} mL in the last vial of lot {last.lot} "
                f"({amount(draw.amount)}): {amount(plan.administered)} given"
                + (f", {format_amount(infusion)} mL in all" if infusion is not None else "")
                + f"; discard the rest ({amount(plan.discarded)})."
            )
        else:
            lines.append(
                f"Draw exactly {amount(plan.administered)}; discard "
                f"{amount(plan.discarded)} left in the last vial (lot {last.lot})."
            )
    lines.append("")
    lines.append("Claim lines:")
    for line in plan.claim_lines:
        modifiers = " ".join(line.modifiers) or "-"
        ndc = f"NDC {line.ndc}" if line.ndc else "no NDC"
        if line.ndc_quantity is not None:
            ndc += f", {line.ndc_unit} {_plain_decimal(line.ndc_quantity)}"
        noun = "unit " if line.units == 1 else "units"
        lines.append(f"  {line.code}  {modifiers:<9} {line.units:>6,} {noun}  {ndc}")
        if line.narrative:
            lines.append(f"      narrative (item 19 / NTE): {line.narrative}")
    for other, units in plan.equivalent_units.items():
        lines.append(
            f"  (the same amount under {other} would be {counted(units, 'unit')}: "
            f"do not mix the two codes' units)"
        )
    if plan.closest is not None:
        least = (
            "Least discarded, with more vials"
            if plan.mode is Mode.EXACT_DOSE
            else "Closest to the order, with more vials"
        )
        lines += [
            "",
            f"{least} (this plan is within the resolution of it):",
            f"  {_trade(plan, plan.closest)}",
        ]
    if plan.selection.alternatives:
        lines.append("")
        what = "more discarded" if plan.mode is Mode.EXACT_DOSE else "further from the order"
        lines.append(f"Fewer vials, {what}:")
        for option in plan.selection.alternatives:
            lines.append(f"  {_trade(plan, option)}")
    lines += _warnings(plan)
    return "\n".join(lines) + "\n"


def _trade(plan: Plan, option: Selection) -> str:
    """An alternative and what it trades: the deviation (whole vials) or the discard
    (an exact dose is exact either way), and the units it bills."""
    unit = plan.code.unit
    lots = ", ".join(f"{count} x {lot}" for lot, count in option.counts_by_lot().items())
    units = option_units(option.total, plan.ordered, plan.mode, plan.code)
    billed = f"{counted(units, 'unit')} of {plan.code.code}"
    if plan.mode is Mode.EXACT_DOSE:
        discard = format_amount(option.total - plan.ordered)
        return (
            f"{format_amount(option.total)} {unit} in {counted(option.vials, 'vial')} "
            f"({discard} {unit} discarded; {billed}): {lots}"
        )
    pct = float((option.total - plan.ordered) / plan.ordered * 100)
    return (
        f"{format_amount(option.total)} {unit} in {counted(option.vials, 'vial')} "
        f"({pct:+.2f}%; {billed}): {lots}"
    )


def _plain_decimal(value: Decimal) -> str:
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _describe(option: Selection, ordered: Fraction, unit: str) -> str:
    lots = ", ".join(f"{count} x {lot}" for lot, count in option.counts_by_lot().items())
    pct = float((option.total - ordered) / ordered * 100)
    return (
        f"{format_amount(option.total)} {unit} in {option.vials} "
        f"vial{'s' * (option.vials != 1)} ({pct:+.2f}%): {lots}"
    )


def _signed(value: Fraction, unit: str) -> str:
    sign = "+" if value >= 0 else "-"
    return f"{sign}{format_amount(abs(value))} {unit}"


def _warnings(plan: Plan) -> list[str]:
    if not plan.warnings:
        return []
    return ["", "Warnings:", *(f"  ! {w}" for w in plan.warnings)]


def supply_worksheet(supply: SupplyPlan) -> str:
    """A supply as text: a summary, then each patient's doses as worksheets."""
    result, baseline, unit = supply.result, supply.baseline, supply.unit
    proven = "proven optimal" if result.stages_proven else "best found in the time limit"

    def deviation(value: Fraction, chosen: SupplyResult) -> str:
        worst = max(
            (abs(s.deviation_pct) for s in chosen.selections if s is not None), default=None
        )
        largest = f", largest {float(worst):.2f}% on one dose" if worst is not None else ""
        return f", total deviation {format_amount(value)} {unit}{largest}" if unit else largest

    lines = [
        f"factordose supply: {counted(len(supply.plans), 'dose')}, {result.met} met, "
        f"{counted(result.vials, 'vial')}{deviation(result.total_deviation, result)} "
        f"({proven}, {result.engine}, {supply.seconds or result.seconds:.2f} s)",
        f"Doses planned one after another instead: {baseline.met} met, "
        f"{counted(baseline.vials, 'vial')}{deviation(baseline.total_deviation, baseline)}",
    ]
    for report in result.stages:
        state = (
            "proven" if report.proven else f"{report.bound_detail}, gap {format_gap(report.gap)}"
        )
        value = report.detail or f"{report.value:,}"
        lines.append(f"  stage {report.name}: {value} ({state}, {report.seconds:.2f} s)")
    by_patient: dict[str, list[tuple[int, Plan]]] = {}
    for number, plan in enumerate(supply.plans, start=1):
        by_patient.setdefault(plan.order.patient_id or "(no patient id)", []).append((number, plan))
    for patient, plans in by_patient.items():
        lines += ["", "=" * 78, f"Patient {patient}: {counted(len(plans), 'dose')}", "=" * 78]
        for number, plan in plans:
            lines += ["", f"--- dose {number} ---", worksheet(plan).rstrip("\n")]
    return "\n".join(lines) + "\n"


def format_gap(fraction: float) -> str:
    """A relative gap as a percentage; one too small for two decimals is not shown as 0."""
    if 0 < fraction < 0.00005:
        return "<0.01%"
    return f"{fraction:.2%}"
