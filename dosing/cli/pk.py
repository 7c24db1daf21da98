"""``factordose pk predict|fit|regimen``: factor levels from a population PK model."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any, TextIO

from dosing.cli.inputs import read_input, read_json
from dosing.cli.report import Report
from dosing.errors import InputError
from dosing.pk.requests import run as run_request
from optimizer.errors import Described

__all__ = ["register"]


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "pk",
        help="predicted factor levels, a patient's own PK from measured levels, a regimen",
        description="PK-guided dosing from a population model (decision support for a "
        "clinician). Request and result JSON: docs/design.md 'PK requests'.",
    )
    parser.add_argument("action", choices=("predict", "fit", "regimen"))
    parser.add_argument("request", help="request JSON file, or - for standard input")
    parser.add_argument("--json", action="store_true", help="print the result JSON")
    parser.add_argument("--plot", metavar="FILE.png|svg", help="draw the curve (matplotlib)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, out: TextIO, report: Report) -> None:
    text, _ = read_input(args.request, "request")
    request = read_json(text, "request")
    if args.plot is not None and Path(args.plot).suffix.lower() not in (".png", ".svg"):
        raise InputError("plot", "a file name ending .png or .svg", Described("another"))
    result = run_request(args.action, request)
    if args.plot is not None:
        from dosing.pk.plot import draw

        draw(result, request, Path(args.plot))
    if args.json:
        print(json.dumps(result), file=out)
        return
    print(_text(args.action, result), file=out, end="")


def _text(action: str, result: dict[str, Any]) -> str:
    lines = [result["decision_support"], f"Model: {result['model']['name']}"]
    covariates = ", ".join(f"{k} {v:g}" for k, v in result["covariates"].items())
    # clearances (CL, Q) in dL/h, volumes (V, V1, V2) in dL: the models' units
    params = ", ".join(
        f"{k} {v:.4g} {'dL' if k.startswith('V') else 'dL/h'}"
        for k, v in result["parameters"].items()
    )
    who = (
        "this patient (fitted to the measured levels)"
        if result["individual"]
        else "a typical patient"
    )
    lines.append(f"Parameters for {who}: {params} ({covariates})")
    lines.append(f"Terminal half-life: {result['terminal_half_life_h']:.1f} h")
    if "steady_state" in result:
        lines += _regimen_lines("At steady state", result["steady_state"])
    if result.get("troughs"):
        lines.append(
            "Troughs: "
            + ", ".join(
                f"{t['level']:.2f} IU/dL before the dose at {t['before_dose_at_h']:g} h"
                for t in result["troughs"]
            )
        )
    if "regimen" in result:
        lines += _regimen_lines("The regimen", result["regimen"])
    if "options" in result:
        if result.get("target_hours_above"):
            wanted = result["target_hours_above"]
            goal = (
                f"at least {wanted['hours_per_week']:g} h a week above "
                f"{wanted['level_iu_dl']:g} IU/dL"
            )
        else:
            goal = f"a trough of at least {result['target_trough']:g} IU/dL"
        lines.append(f"Least factor per week for {goal}:")
        for option in result["options"]:
            sure = ""
            if "amount_for_90pct" in option:
                sure = f"; 9 in 10 at {option['amount_for_90pct']:,.0f} IU a dose"
            lines.append(
                f"  {option['schedule']:<18} {option['amount']:>9,.0f} IU a dose, "
                f"{option['per_week']:>9,.0f} IU a week{_chances(option)}{sure}"
            )
        if any("amount_for_90pct" in o for o in result["options"]):
            lines.append(
                "  (the least dose meets the target for the fitted patient, so about half the "
                "time given the fit's uncertainty; '9 in 10' is the dose that meets it in 90%)"
            )
    if "vials" in result:
        vials = result["vials"]
        plan = vials["plan"]
        if plan["status"] == "ok":
            pulled = ", ".join(
                f"{v['count']} x {v['lot']} ({v['amount']:g})" for v in plan["vials"]
            )
            lines.append(
                f"Vials ({vials['schedule']}): {pulled} = {plan['dispensed']:,.0f} IU, "
                f"predicted trough {vials['trough']:.2f} IU/dL{_chances(vials, interval=False)}"
            )
            for alt in vials["alternatives"]:
                many = "s" if alt["vials"] != 1 else ""
                lines.append(
                    f"  or {alt['dispensed']:,.0f} IU in {alt['vials']} vial{many}: "
                    f"trough {alt['trough']:.2f} IU/dL{_chances(alt, interval=False)}"
                )
        else:
            lines.append(f"Vials ({vials['schedule']}): none ({plan.get('reason', '')})")
        if vials.get("skipped"):
            lines.append(
                f"  (no vial selection makes the dose of {', '.join(vials['skipped'])}: "
                "the next schedule's)"
            )
        lines += [f"! vials: {w}" for w in plan.get("warnings", [])]
    lines += [f"! {w}" for w in result["warnings"]]
    return "\n".join(lines) + "\n"


def _regimen_lines(title: str, summary: dict[str, Any]) -> list[str]:
    above = ", ".join(f">= {k}: {v:g} h" for k, v in summary["hours_above_per_week"].items())
    line = (
        f"{title}: {summary['amount']:,.0f} IU every {summary['period_h']:g} h window, "
        f"peak {summary['peak']:.1f}, trough {summary['trough']:.2f} IU/dL; hours a week {above}"
    )
    out = [line]
    if "trough_90pct" in summary:
        out.append("  " + _chances(summary).removeprefix("; "))
    return out


def _chances(entry: dict[str, Any], *, interval: bool = True) -> str:
    """'; trough 90% interval a-b IU/dL, P(...) p' for a fitted patient, else ''."""
    parts = []
    if interval and "trough_90pct" in entry:
        low, high = entry["trough_90pct"]
        parts.append(f"trough 90% interval {low:.2f}-{high:.2f} IU/dL")
    if interval and "hours_above_target_90pct" in entry:
        low, high = entry["hours_above_target_90pct"]
        parts.append(f"hours above the level 90% interval {low:.1f}-{high:.1f}")
    if "probability_trough_at_least_target" in entry:
        parts.append(f"P(trough >= target) {entry['probability_trough_at_least_target']:.0%}")
    if "probability_hours_at_least_target" in entry:
        parts.append(f"P(hours >= target) {entry['probability_hours_at_least_target']:.0%}")
    return "; " + ", ".join(parts) if parts else ""
